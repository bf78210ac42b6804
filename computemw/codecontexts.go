package computemw

import (
	"context"
	"time"
)

// ContextRunner is implemented by sandboxes that hold code contexts: an
// interpreter (Python, JavaScript...) kept running in the sandbox between
// executions, so that the variables, imports and functions one execution
// defines are there for the next, as in a notebook. A sandbox holds
// several; each runs one execution at a time (others wait their turn).
// A context ends with DeleteContext or with its sandbox.
type ContextRunner interface {
	// CreateContext starts an interpreter for opts.Language.
	CreateContext(ctx context.Context, opts ContextOptions) (CodeContext, error)
	// Contexts lists the sandbox's contexts.
	Contexts(ctx context.Context) ([]CodeContext, error)
	// RunInContext runs code in context id and returns what it printed
	// and its rich results. Of opts, Timeout, MaxOutputBytes, Stdout,
	// Stderr and Caller apply. Code that raises is not an error: its
	// ContextResult carries the Error (and ExitCode 1). An execution that
	// reaches its time limit is interrupted; when it does not stop, the
	// interpreter is restarted and its state lost.
	RunInContext(ctx context.Context, id, code string, opts ExecOptions) (*ContextResult, error)
	// InterruptContext interrupts the execution running in context id,
	// as Ctrl-C would (SIGINT: Python raises KeyboardInterrupt); the
	// context keeps its state. Without a running execution it does
	// nothing.
	InterruptContext(ctx context.Context, id string) error
	// RestartContext replaces the interpreter of context id with a fresh
	// one: its state is lost, its ID and options kept.
	RestartContext(ctx context.Context, id string) error
	// DeleteContext ends context id and its interpreter's processes.
	DeleteContext(ctx context.Context, id string) error
}

// ContextOptions configure a new code context.
type ContextOptions struct {
	// Language is the interpreter's language ("python", "node"...).
	Language string
	// Cwd is the working directory, relative to the workspace.
	Cwd string
	// Env adds environment variables to the interpreter's.
	Env map[string]string
}

// CodeContext describes a code context.
type CodeContext struct {
	ID       string    `json:"id"`
	Language string    `json:"language"`
	Cwd      string    `json:"cwd,omitempty"`
	Created  time.Time `json:"createdAt"`
}

// ContextResult is the outcome of an execution in a code context: the
// output and measures of a [Result], its rich results, and the error the
// code raised.
type ContextResult struct {
	Result
	// Results are what the code displayed, in order, then the value of
	// its last expression (IsMain) when it has one.
	Results []DisplayData
	// Error is the exception the code raised, or nil.
	Error *ExecutionError
}

// DisplayData is one rich result as a MIME bundle: the same value in
// each representation the interpreter could give it, keyed by MIME type
// ("text/plain", "text/html", "image/png", "application/json"...).
// Binary data (images) is base64-encoded; application/json holds JSON
// text.
type DisplayData struct {
	Data map[string]string `json:"data"`
	// IsMain marks the value of the execution's last expression.
	IsMain bool `json:"isMainResult,omitempty"`
}

// ExecutionError is an exception raised by code in a context.
type ExecutionError struct {
	// Name is the exception's type ("NameError", "KeyboardInterrupt").
	Name string `json:"name"`
	// Value is its message.
	Value string `json:"value"`
	// Traceback is the formatted traceback, as the interpreter prints it.
	Traceback string `json:"traceback"`
}

// MaxContextCodeBytes bounds the code of one execution in a context.
const MaxContextCodeBytes = 512 << 10
