// Package execopts is what the remote providers share about execution
// options: those they cannot honour are refused, not silently ignored.
package execopts

import "github.com/computemw/kit/computemw"

// Refuse returns computemw.Unsupported naming the first option in opts
// that a provider without a runtime table, compile step or merged output
// stream cannot honour — a language version, compile options, a compile
// limit of its own, stderr merged into stdout — or nil when opts asks for
// none of them.
func Refuse(provider string, opts computemw.ExecOptions) error {
	switch {
	case opts.Version != "":
		return computemw.Unsupported(provider, "choosing a language version")
	case len(opts.CompileOptions) > 0:
		return computemw.Unsupported(provider, "compile options")
	case opts.CompileTimeout > 0:
		return computemw.Unsupported(provider, "a compile time limit")
	case opts.MergeStderr:
		return computemw.Unsupported(provider, "merging stderr into stdout")
	}
	return nil
}
