package computemw

import "strings"

// ValidateEnv validates environment variables a client sets: names are
// identifiers ([A-Za-z_][A-Za-z0-9_]*), values hold no NUL, and there are
// at most MaxEnvVars of them in MaxEnvBytes. Every entry point of the kit
// checks them before anything reaches a provider; providers may check
// again with it.
func ValidateEnv(env map[string]string) error {
	if len(env) > MaxEnvVars {
		return Errorf(CodeBadRequest, "env: more than %d variables", MaxEnvVars)
	}
	size := 0
	for name, val := range env {
		if !validEnvName(name) {
			return Errorf(CodeBadRequest, "env: invalid variable name %q", truncate(name, 64))
		}
		if strings.ContainsRune(val, 0) {
			return Errorf(CodeBadRequest, "env: value of %q contains a NUL byte", name)
		}
		size += len(name) + len(val) + 1
	}
	if size > MaxEnvBytes {
		return Errorf(CodeBadRequest, "env: more than %d bytes in all", MaxEnvBytes)
	}
	return nil
}

// validEnvName reports whether name is a portable variable name: a letter
// or underscore, then letters, digits and underscores.
func validEnvName(name string) bool {
	if name == "" || len(name) > 256 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Bounds of what a request may hand to a sandbox besides its body.
const (
	// MaxEnvVars is the most environment variables one request may set.
	MaxEnvVars = 256
	// MaxEnvBytes bounds the names and values of a request's environment
	// together.
	MaxEnvBytes = 64 << 10
	// MaxCommandBytes bounds a command line.
	MaxCommandBytes = 128 << 10
)
