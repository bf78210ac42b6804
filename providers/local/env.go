//go:build linux

package local

import (
	"maps"
	"slices"
	"strings"

	"github.com/computemw/kit/computemw"
)

// The bounds of the variables a client sets: at most maxEnvVars variables
// and maxEnvBytes bytes (each name, '=' and value) in CreateOptions.Env,
// in ExecOptions.Env or TerminalOptions.Env, and in the sandbox's and an
// execution's together. Past them a request is a BAD_REQUEST: the
// environment travels in bwrap's argument list, and every byte of it is
// copied into each process the sandbox starts.
const (
	maxEnvVars  = 256
	maxEnvBytes = 64 << 10
)

// checkEnv validates variables a client sets: names are identifiers
// ([A-Za-z_][A-Za-z0-9_]*), values hold no NUL (which would end the
// value and start a bwrap option), and the bounds above hold.
func checkEnv(env map[string]string) error {
	if len(env) > maxEnvVars {
		return computemw.Errorf(computemw.CodeBadRequest, "env: %d variables, at most %d", len(env), maxEnvVars)
	}
	size := 0
	for k, v := range env {
		if !validEnvName(k) {
			return computemw.Errorf(computemw.CodeBadRequest, "env: invalid variable name %q (letters, digits and '_', not starting with a digit)", k)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return computemw.Errorf(computemw.CodeBadRequest, "env: the value of %s contains a NUL byte", k)
		}
		size += len(k) + 1 + len(v)
	}
	if size > maxEnvBytes {
		return computemw.Errorf(computemw.CodeBadRequest, "env: %d bytes, at most %d", size, maxEnvBytes)
	}
	return nil
}

func validEnvName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

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
