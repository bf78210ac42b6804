package local

import (
	"fmt"
	"os"
	"strconv"
)

// The environment variables of [ConfigFromEnv]: a server that does not run
// as root names the cgroup subtree delegated to it, and may keep its
// workspaces elsewhere than its cache directory.
const (
	// EnvCgroupParent sets Config.CgroupParent: a cgroup (relative to the
	// hierarchy's root; on cgroup v1 the same path in each controller)
	// that this process may write, such as a subtree an administrator
	// delegated to its user.
	EnvCgroupParent = "COMPUTEMW_CGROUP_PARENT"
	// EnvBaseDir sets Config.BaseDir.
	EnvBaseDir = "COMPUTEMW_BASE_DIR"
	// EnvAllowNoCgroups ("true" or "1") sets Config.AllowNoCgroups: no
	// memory, process or CPU caps.
	EnvAllowNoCgroups = "COMPUTEMW_ALLOW_NO_CGROUPS"
)

// ConfigFromEnv is a Config with the settings of the environment variables
// EnvCgroupParent, EnvBaseDir and EnvAllowNoCgroups; unset ones keep their
// defaults.
func ConfigFromEnv() (Config, error) {
	c := Config{CgroupParent: os.Getenv(EnvCgroupParent), BaseDir: os.Getenv(EnvBaseDir)}
	if v := os.Getenv(EnvAllowNoCgroups); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("local: %s=%q is not true or false", EnvAllowNoCgroups, v)
		}
		c.AllowNoCgroups = b
	}
	return c, nil
}

// FromEnv makes a provider configured from the environment; see
// [ConfigFromEnv].
func FromEnv() (*Provider, error) {
	c, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	return New(c)
}
