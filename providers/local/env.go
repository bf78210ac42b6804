//go:build linux

package local

import (
	"maps"
	"slices"

	"github.com/computemw/kit/computemw"
)

// checkEnv validates variables a client sets, with the kit's own rule
// (computemw.ValidateEnv: identifier names, no NUL, at most
// computemw.MaxEnvVars variables and computemw.MaxEnvBytes bytes) — in
// CreateOptions.Env, in ExecOptions.Env or TerminalOptions.Env, and in the
// sandbox's and an execution's together. The kit checks before any
// provider is called; the provider checks again because the environment
// travels in bwrap's argument list, and a NUL there would start a bwrap
// option.
func checkEnv(env map[string]string) error { return computemw.ValidateEnv(env) }

// environ is the complete environment of a sandboxed process: a fixed
// base, the sandbox's variables, then the execution's. Nothing of the
// host's.
func (s *sandbox) environ(extra map[string]string) ([]string, error) {
	if err := checkEnv(extra); err != nil {
		return nil, err
	}
	client := maps.Clone(s.env)
	if client == nil {
		client = map[string]string{}
	}
	maps.Copy(client, extra)
	if err := checkEnv(client); err != nil {
		return nil, err
	}
	env := map[string]string{
		"PATH":    sandboxPath,
		"HOME":    s.inside("."),
		"TMPDIR":  "/tmp",
		"LANG":    "C.UTF-8",
		"USER":    "sandbox",
		"LOGNAME": "sandbox",
		"SHELL":   "/bin/sh",
	}
	maps.Copy(env, client)
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out, nil
}
