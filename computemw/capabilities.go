package computemw

import (
	"context"
	"fmt"
	"io"
)

// Unsupported is the error of an operation that a sandbox's provider does
// not offer (terminals, background processes, streamed files): 400
// EXECUTION_ERROR naming the provider. It is the one wording of "not
// supported" that the kit and its transports answer with.
func Unsupported(provider, feature string) *Error {
	return &Error{Code: CodeExecution, Message: fmt.Sprintf("%s: not supported by provider %q", feature, provider)}
}

// A governed sandbox offers an optional interface ([TerminalOpener],
// [FileOpener], [ProcessManager], [ContextRunner]) exactly when its provider's sandbox
// does: the kit hands out one of these views, so that a type assertion
// tells the truth about what the sandbox can do.

type (
	terminalView struct{ g *governed }
	fileView     struct{ g *governed }
	processView  struct{ g *governed }
)

// OpenTerminal opens a governed terminal (see [TerminalOpener]).
func (v terminalView) OpenTerminal(ctx context.Context, opts TerminalOptions) (Terminal, error) {
	return v.g.openTerminal(ctx, opts)
}

// OpenFile opens a file for streaming, authorized as a file operation
// (see [FileOpener]).
func (v fileView) OpenFile(ctx context.Context, path string) (io.ReadCloser, FileInfo, error) {
	return v.g.openFile(ctx, path)
}

// StartProcess starts a governed background process (see [ProcessManager]).
func (v processView) StartProcess(ctx context.Context, command string, opts ProcessOptions) (ProcessInfo, error) {
	return v.g.startProcess(ctx, command, opts)
}

// Processes lists the sandbox's background processes.
func (v processView) Processes(ctx context.Context) ([]ProcessInfo, error) { return v.g.processes(ctx) }

// KillProcess stops a background process and what it started.
func (v processView) KillProcess(ctx context.Context, pid int) error {
	return v.g.killProcess(ctx, pid)
}

type (
	govT struct {
		*governed
		terminalView
	}
	govF struct {
		*governed
		fileView
	}
	govP struct {
		*governed
		processView
	}
	govTF struct {
		*governed
		terminalView
		fileView
	}
	govTP struct {
		*governed
		terminalView
		processView
	}
	govFP struct {
		*governed
		fileView
		processView
	}
	govTFP struct {
		*governed
		terminalView
		fileView
		processView
	}
)

// governedSandbox is every view of a governed sandbox.
type governedSandbox interface {
	Sandbox
	gov() *governed
}

func (g *governed) gov() *governed { return g }

// view is the sandbox handed to callers: g with the optional interfaces
// its provider's sandbox has, and no others.
func (g *governed) view() Sandbox {
	_, t := g.raw.(TerminalOpener)
	_, f := g.raw.(FileOpener)
	_, p := g.raw.(ProcessManager)
	if _, c := g.raw.(ContextRunner); c {
		return g.contextsView(t, f, p)
	}
	tv, fv, pv := terminalView{g}, fileView{g}, processView{g}
	switch {
	case t && f && p:
		return govTFP{g, tv, fv, pv}
	case t && f:
		return govTF{g, tv, fv}
	case t && p:
		return govTP{g, tv, pv}
	case f && p:
		return govFP{g, fv, pv}
	case t:
		return govT{g, tv}
	case f:
		return govF{g, fv}
	case p:
		return govP{g, pv}
	}
	return g
}

// governedOf returns the governed sandbox behind a view, or nil for a
// sandbox the kit did not make.
func governedOf(sb Sandbox) *governed {
	if v, ok := sb.(governedSandbox); ok {
		return v.gov()
	}
	return nil
}
