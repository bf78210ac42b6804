package computemw

import (
	"slices"
	"strings"
)

// Bounds of a program's arguments (ExecOptions.Args, Run.Args, the
// "args" of POST /execute and of the WebSocket execute message).
const (
	// MaxArgs is the most arguments one execution may pass.
	MaxArgs = 256
	// MaxArgsBytes bounds the arguments together.
	MaxArgsBytes = 64 << 10
)

// validateArgs validates the arguments a client passes to a program: at
// most MaxArgs of them in MaxArgsBytes, none holding a NUL byte (which
// would end it early). They reach the program as its argv, with no shell
// in between, so no other character is special. Every entry point of the
// kit checks them before anything reaches a provider.
func validateArgs(args []string) error {
	if len(args) > MaxArgs {
		return Errorf(CodeBadRequest, "args: more than %d arguments", MaxArgs)
	}
	size := 0
	for i, a := range args {
		if strings.IndexByte(a, 0) >= 0 {
			return Errorf(CodeBadRequest, "args: argument %d contains a NUL byte", i)
		}
		size += len(a) + 1
	}
	if size > MaxArgsBytes {
		return Errorf(CodeBadRequest, "args: more than %d bytes in all", MaxArgsBytes)
	}
	return nil
}

// validateRunArgs checks a run's arguments: bounded, and only for a
// program (a command line takes its arguments in itself).
func validateRunArgs(run Run) error {
	if len(run.Args) > 0 && run.Command != "" {
		return Errorf(CodeBadRequest, "args are for a program (language and code), not a command")
	}
	return validateArgs(run.Args)
}

// checkTemplate accepts a template the provider names, or else a language
// it runs (the meaning of a template for providers without templates).
func checkTemplate(p Provider, template string) error {
	if ll, ok := p.(LanguageLister); ok && slices.Contains(ll.TemplateNames(), template) {
		return nil
	}
	return checkLanguage(p, template)
}
