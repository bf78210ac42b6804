package computemw

import (
	"context"
	"io"
	"time"
)

// Provider creates sandboxes. Providers are registered on a [Kit] by name
// ("local", "daytona", "e2b", ...).
type Provider interface {
	// Name is the provider's registry name.
	Name() string
	// Create makes a new, isolated sandbox. The caller owns it and must
	// Destroy it.
	Create(ctx context.Context, opts CreateOptions) (Sandbox, error)
}

// LanguageLister is implemented by providers that know what they run. The
// kit uses it to reject an unknown language or template before creating a
// sandbox, and to describe the provider's runtimes ([Kit.Runtimes], GET
// /languages).
type LanguageLister interface {
	// Languages lists the language names (and aliases) the provider runs.
	Languages() []string
	// Runtimes describes them; nil (with a nil error) describes each of
	// Languages by its name alone. The kit calls it once per provider
	// (again only after a failure or a nil answer) and keeps the answer,
	// so a provider may do real work in it, such as asking each runtime
	// its version in a sandbox; ctx bounds that work.
	Runtimes(ctx context.Context) ([]Runtime, error)
	// TemplateNames lists the names CreateOptions.Template accepts besides
	// the languages (the local provider's root filesystems); nil for none.
	TemplateNames() []string
}

// HealthChecker is implemented by providers that have a cheaper or more
// thorough probe than the default (create, echo, destroy).
type HealthChecker interface {
	CheckHealth(ctx context.Context) error
}

// Closer is implemented by providers and policies that hold resources
// beyond a request (a provider's base directory, an authenticator's key
// refresh); [Kit.Close] calls it after every sandbox is destroyed.
type Closer interface {
	Close(ctx context.Context) error
}

// Sandbox is one isolated execution environment: processes, a filesystem
// and resource limits. Every method is safe for concurrent use. Destroy is
// idempotent and safe on a half-created sandbox; after it every other method
// fails.
type Sandbox interface {
	// ID is unique among the provider's sandboxes.
	ID() string
	// Provider is the name of the provider that made the sandbox.
	Provider() string
	// Exec runs a shell command line (sh -c) in the sandbox's workspace.
	// A program that runs and exits non-zero is not an error: it returns a
	// Result with that ExitCode. On a timeout or a resource limit it returns
	// the partial Result together with an error of class ErrTimeout or
	// ErrResource; a sandbox the kit hands out also puts that partial
	// Result in the error's Details, so the error alone keeps it.
	Exec(ctx context.Context, command string, opts ExecOptions) (*Result, error)
	// RunCode runs source code in the given language, with the same result
	// and error rules as Exec.
	RunCode(ctx context.Context, language, code string, opts ExecOptions) (*Result, error)

	// ReadFile returns the content of a file.
	ReadFile(ctx context.Context, path string) ([]byte, error)
	// WriteFile creates or replaces a file, creating parent directories.
	WriteFile(ctx context.Context, path string, data []byte) error
	// ListFiles lists a directory.
	ListFiles(ctx context.Context, path string) ([]FileInfo, error)
	// Stat describes one file or directory.
	Stat(ctx context.Context, path string) (FileInfo, error)
	// Mkdir creates a directory and its parents.
	Mkdir(ctx context.Context, path string) error
	// Remove deletes a file or a directory tree.
	Remove(ctx context.Context, path string) error

	// Usage reports the resources the sandbox has used so far.
	Usage(ctx context.Context) (Usage, error)
	// Destroy stops every process of the sandbox and removes everything it
	// left behind.
	Destroy(ctx context.Context) error
}

// CreateOptions configure a new sandbox.
type CreateOptions struct {
	// Template is a provider-specific template or image; for the local
	// provider, a language whose runtime must be present.
	Template string
	// Env is set in every process of the sandbox.
	Env map[string]string
	// Network asks for network access. Providers may refuse it by policy.
	Network bool
	// Resources caps the sandbox; zero fields take the provider's defaults,
	// and providers never exceed their own configured maximum.
	Resources Resources
	// Metadata is free-form data kept with the sandbox.
	Metadata map[string]string
	// Owner is who the sandbox is made for, set by the kit: "p:" and the
	// principal's ID, else "addr:" and the client's address. A provider
	// that reuses sandboxes may keep that reuse within one owner.
	Owner string
}

// Resources are the limits of one sandbox.
type Resources struct {
	// MemoryMB caps the memory of all processes together.
	MemoryMB int
	// CPUCores caps CPU bandwidth, in cores (0.5 = half a core).
	CPUCores float64
	// MaxProcesses caps the number of processes and threads.
	MaxProcesses int
	// MaxExecutionTime caps the wall-clock time of one execution.
	MaxExecutionTime time.Duration
}

// ExecOptions configure one execution.
type ExecOptions struct {
	// Cwd is the working directory, relative to the workspace.
	Cwd string
	// Env adds environment variables for this execution.
	Env map[string]string
	// Args are passed to a program (RunCode) as its arguments, as they
	// are: no shell reads them. The kit refuses more than MaxArgs of them,
	// more than MaxArgsBytes in all, and any holding a NUL byte.
	Args []string
	// Stdin is sent to the program's standard input.
	Stdin io.Reader
	// Timeout is the wall-clock limit; zero means the provider's default.
	Timeout time.Duration
	// MaxOutputBytes caps the captured stdout and stderr each; zero means
	// the provider's default.
	MaxOutputBytes int64
	// Stdout and Stderr, when set, receive the output as it is produced
	// (streaming), besides the capture in the Result. A writer that
	// blocks slows the program down (backpressure) rather than buffering
	// without bound; a writer's error stops the program.
	Stdout io.Writer
	Stderr io.Writer
	// Version picks one of the language's installed versions (RunCode;
	// the "version" GET /languages lists); "" is the provider's default.
	// One not installed is a 400 listing those that are. A provider that
	// cannot choose answers [Unsupported].
	Version string
	// CompileOptions are compiler flags for a compiled language (RunCode),
	// each one of those the runtime allows: another is a 400 naming it.
	CompileOptions []string
	// CompileTimeout, when not zero, is the compile step's own wall-clock
	// limit, and the run step then has the whole Timeout after it; when
	// zero, the compile counts within Timeout. The kit sets it from the
	// Action, within the caller's limits.
	CompileTimeout time.Duration
	// MergeStderr sends the program's standard error into its standard
	// output, interleaved as it is written (one pipe for both): Stdout
	// receives everything and Result.Stderr stays empty.
	MergeStderr bool
	// Caller names whom the execution runs for (the kit sets it to the
	// caller's principal, else client address). Providers may use it to
	// share work fairly between callers: the local provider's start gate
	// lets callers' executions start in turn.
	Caller string
}

// FileOpener is implemented by sandboxes that can stream a file: the kit's
// download action and reads of the JSON form use it, so that a large file
// never sits whole in the server's memory.
type FileOpener interface {
	// OpenFile opens a regular file for reading and describes it.
	OpenFile(ctx context.Context, path string) (io.ReadCloser, FileInfo, error)
}

// TerminalOpener is implemented by sandboxes that can run an interactive
// program on a pseudo-terminal.
type TerminalOpener interface {
	// OpenTerminal starts opts.Command (a login shell when empty) on a new
	// pseudo-terminal in the sandbox.
	OpenTerminal(ctx context.Context, opts TerminalOptions) (Terminal, error)
}

// TerminalOptions configure a terminal.
type TerminalOptions struct {
	Command    string
	Cols, Rows uint16
	Env        map[string]string
}

// Terminal is a program running on a pseudo-terminal: Read returns its
// output, Write types into it.
type Terminal interface {
	io.ReadWriteCloser
	// Resize changes the window size (the program sees SIGWINCH).
	Resize(cols, rows uint16) error
	// Wait waits for the program to exit and returns its exit code.
	Wait() (int, error)
}

// Result is the outcome of a finished (or stopped) execution.
type Result struct {
	Stdout        string
	Stderr        string
	ExitCode      int
	ExecutionTime time.Duration
	// CPUTime is the user+system CPU time, measured by the provider.
	CPUTime time.Duration
	// PeakMemory is the highest memory use in bytes, measured by the
	// provider (0 when the provider cannot measure it).
	PeakMemory int64
	// Truncated reports that stdout or stderr exceeded the output cap.
	Truncated bool
	// SandboxID and Provider say where it ran; the kit sets them.
	SandboxID string
	Provider  string
	// CompileOutput is what the compiler of a compiled language printed
	// (empty for interpreted languages and for artefacts served from a
	// build cache). A failed compile is an ErrExecution error whose
	// Details carry it too.
	CompileOutput string
}

// FileInfo describes a file in a sandbox.
type FileInfo struct {
	Name     string    `json:"name"`
	Path     string    `json:"path"`
	Type     string    `json:"type"` // "file", "directory" or "symlink"
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
}

// Usage is what a sandbox has consumed so far.
type Usage struct {
	CPUTime    time.Duration
	PeakMemory int64
	Executions int64
}
