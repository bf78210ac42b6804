package jobs

import (
	"time"

	"github.com/computemw/kit/computemw"
)

// State is where a job is in its life.
type State string

// The states of a job. Completed, Cancelled and Failed are final.
const (
	StateQueued    State = "queued"    // waiting for a worker
	StateRunning   State = "running"   // a worker is running it
	StateCompleted State = "completed" // it ran; Verdict says how it went
	StateCancelled State = "cancelled" // cancelled before it finished
	StateFailed    State = "failed"    // it could not be run to the end (its instance died too often)
)

// Final reports whether s is a state a job never leaves.
func (s State) Final() bool {
	return s == StateCompleted || s == StateCancelled || s == StateFailed
}

// File is a file written into the job's sandbox before it runs.
type File struct {
	Path string `json:"path"`
	Data []byte `json:"data"`
}

// Spec is what a job runs: a program (Language and Code) or a command
// line (Command), as [computemw.Run] takes them, and how it is graded and
// reported.
type Spec struct {
	Provider string            `json:"provider,omitempty"`
	Language string            `json:"language,omitempty"`
	Code     string            `json:"code,omitempty"`
	Command  string            `json:"command,omitempty"`
	Cwd      string            `json:"cwd,omitempty"`
	Stdin    string            `json:"stdin,omitempty"`
	Env      map[string]string `json:"env,omitempty"`
	Args     []string          `json:"args,omitempty"`
	Files    []File            `json:"files,omitempty"`
	// Timeout is the run's wall-clock limit; zero is the kit's default.
	Timeout time.Duration `json:"timeout,omitempty"`
	// MemoryMB caps the sandbox's memory; zero is the provider's default.
	MemoryMB int `json:"memoryMB,omitempty"`
	// ExpectedOutput, when set, grades the run: its standard output is
	// compared with it under Compare.
	ExpectedOutput *string `json:"expectedOutput,omitempty"`
	// Compare is how the output is compared; "" is [CompareTrim].
	Compare Compare `json:"compare,omitempty"`
	// CallbackURL receives the finished job (see [Sign]).
	CallbackURL string `json:"callbackUrl,omitempty"`
}

// run returns the governed execution of the spec.
func (s *Spec) run() computemw.Run {
	files := make([]computemw.File, 0, len(s.Files))
	for _, f := range s.Files {
		files = append(files, computemw.File{Path: f.Path, Data: f.Data})
	}
	r := computemw.Run{Provider: s.Provider, Language: s.Language, Code: s.Code, Command: s.Command,
		Cwd: s.Cwd, Env: s.Env, Args: s.Args, Timeout: s.Timeout, Files: files}
	r.Create.Resources.MemoryMB = s.MemoryMB
	return r
}

// Outcome is how a job ended.
type Outcome struct {
	// Verdict grades the run.
	Verdict Verdict `json:"verdict"`
	// Signal names the signal that ended a program (SIGSEGV ...), with
	// [VerdictRuntimeError].
	Signal string `json:"signal,omitempty"`
	// Result is the run's result (partial for a time or memory limit);
	// nil when the program did not run.
	Result *computemw.Result `json:"result,omitempty"`
	// Error is the kit's error when the run did not finish normally: its
	// stable code and message.
	Error *ErrorInfo `json:"error,omitempty"`
}

// ErrorInfo is an error as the contract writes it: a stable code and a
// message.
type ErrorInfo struct {
	Code    computemw.Code `json:"code"`
	Message string         `json:"message"`
}

// Job is one submitted execution and, once it ran, its outcome.
type Job struct {
	ID string `json:"id"`
	// BatchID is the batch the job was submitted in, or "".
	BatchID string `json:"batchId,omitempty"`
	// Owner is the principal that submitted the job and on whose behalf
	// it runs; only it sees the job.
	Owner computemw.Principal `json:"-"`
	// OwnerKey names the owner for who sees the job and for the
	// per-caller cap: "p:" and the principal's ID, or for an anonymous
	// caller "ip:" and its client address.
	OwnerKey string `json:"-"`
	Spec     Spec   `json:"-"`
	State    State  `json:"status"`
	// Attempts counts the runs begun: more than one when an instance died
	// while running it.
	Attempts   int        `json:"attempts"`
	CreatedAt  time.Time  `json:"createdAt"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	// Outcome is set once the job is final (for a cancelled job, when it
	// had started).
	*Outcome
}

// Batch is the jobs submitted together.
type Batch struct {
	ID   string `json:"id"`
	Jobs []*Job `json:"jobs"`
}
