package httpapi

import "github.com/computemw/kit/computemw"

// ExecutionResponse is the 200 body of /execute and /exec: a finished
// execution's [computemw.Result] as the contract writes it (camelCase
// names, times in milliseconds). A Result marshals to the same JSON.
type ExecutionResponse struct {
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

// NewExecutionResponse returns the contract's body of a finished
// execution.
func NewExecutionResponse(r *computemw.Result) ExecutionResponse {
	return ExecutionResponse{
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

// PartialOutput is the Details of a TIMEOUT or RESOURCE_ERROR: what the
// program printed before it was stopped.
type PartialOutput struct {
	Output    string `json:"output"`
	Stderr    string `json:"stderr"`
	Truncated bool   `json:"truncated"`
}
