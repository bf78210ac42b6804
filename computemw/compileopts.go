package computemw

import (
	"strings"
	"time"
)

// Bounds of a request's version and compile options.
const (
	maxVersionBytes       = 64
	maxCompileOptions     = 32
	maxCompileOptionBytes = 256
)

// validateCompile checks an execution's version, compile options and
// compile limit: bounded, and only for a program (not a command line).
func (k *Kit) validateCompile(command bool, version string, options []string, compileTimeout time.Duration) error {
	if command && (version != "" || len(options) > 0 || compileTimeout != 0) {
		return Errorf(CodeBadRequest, "version, compileOptions and compileTimeout apply to a language's program, not to a command")
	}
	if len(version) > maxVersionBytes || strings.ContainsRune(version, 0) {
		return Errorf(CodeBadRequest, "version must be at most %d bytes, without NUL", maxVersionBytes)
	}
	if len(options) > maxCompileOptions {
		return Errorf(CodeBadRequest, "at most %d compile options", maxCompileOptions)
	}
	for _, o := range options {
		if o == "" || len(o) > maxCompileOptionBytes || strings.ContainsRune(o, 0) {
			return Errorf(CodeBadRequest, "compile option %q must be 1 to %d bytes, without NUL", o, maxCompileOptionBytes)
		}
	}
	if compileTimeout < 0 || compileTimeout > k.cfg.MaxTimeout {
		return Errorf(CodeBadRequest, "compileTimeout must be positive and at most %d ms", k.cfg.MaxTimeout.Milliseconds())
	}
	return nil
}
