// Package outcome names how an execution ended, as the kit's execution log
// and its Prometheus metrics label it.
package outcome

// The statuses of an execution: computemw.StatusSuccess and the others.
const (
	Success   = "success"   // ran and exited 0
	Failure   = "failure"   // ran and exited non-zero
	Timeout   = "timeout"   // stopped by its time limit
	Resource  = "resource"  // stopped by a memory, process, disk or output limit
	Execution = "execution" // could not run: unknown language, failed to start
	Error     = "error"     // anything else
)

// All lists every status [Of] returns.
func All() []string {
	return []string{Success, Failure, Timeout, Resource, Execution, Error}
}

// Of classifies an execution: one that ran to its end (failed false) by
// its exit code, one that failed by its error's code (the kit's TIMEOUT,
// RESOURCE_ERROR, EXECUTION_ERROR, or another).
func Of(failed bool, exitCode int, code string) string {
	if !failed {
		if exitCode != 0 {
			return Failure
		}
		return Success
	}
	switch code {
	case "TIMEOUT":
		return Timeout
	case "RESOURCE_ERROR":
		return Resource
	case "EXECUTION_ERROR":
		return Execution
	}
	return Error
}
