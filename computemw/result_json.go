package computemw

import (
	"encoding/json"
	"time"
)

// body returns the contract's body of a finished execution: what POST
// /execute answers (httpapi.ExecutionResponse).
func (r *Result) body() executionBody {
	return executionBody{
		Success:       r.ExitCode == 0,
		Output:        r.Stdout,
		Stderr:        r.Stderr,
		CompileOutput: r.CompileOutput,
		ExitCode:      r.ExitCode,
		ExecutionTime: r.ExecutionTime.Milliseconds(),
		CPUTime:       r.CPUTime.Milliseconds(),
		PeakMemory:    r.PeakMemory,
		SandboxID:     r.SandboxID,
		Provider:      r.Provider,
		Truncated:     r.Truncated,
	}
}

// MarshalJSON writes a Result as the contract's execution body (camelCase
// names, times in milliseconds), so that a handler can answer with a
// Result as it is: c.JSON(200, res) gives what POST /execute gives.
func (r Result) MarshalJSON() ([]byte, error) { return json.Marshal(r.body()) }

// UnmarshalJSON reads the contract's execution body into a Result.
func (r *Result) UnmarshalJSON(b []byte) error {
	var e executionBody
	if err := json.Unmarshal(b, &e); err != nil {
		return err
	}
	*r = Result{
		Stdout: e.Output, Stderr: e.Stderr, CompileOutput: e.CompileOutput, ExitCode: e.ExitCode,
		ExecutionTime: time.Duration(e.ExecutionTime) * time.Millisecond,
		CPUTime:       time.Duration(e.CPUTime) * time.Millisecond,
		PeakMemory:    e.PeakMemory, Truncated: e.Truncated, SandboxID: e.SandboxID, Provider: e.Provider,
	}
	return nil
}

// executionBody is the 200 body of /execute and /exec, which
// httpapi.ExecutionResponse documents for clients.
type executionBody struct {
	Success       bool   `json:"success"`
	Output        string `json:"output"`
	Stderr        string `json:"stderr"`
	CompileOutput string `json:"compileOutput,omitempty"`
	ExitCode      int    `json:"exitCode"`
	ExecutionTime int64  `json:"executionTime"` // milliseconds
	CPUTime       int64  `json:"cpuTime"`       // milliseconds
	PeakMemory    int64  `json:"peakMemory"`    // bytes
	SandboxID     string `json:"sandboxId"`
	Provider      string `json:"provider"`
	Truncated     bool   `json:"truncated"`
}
