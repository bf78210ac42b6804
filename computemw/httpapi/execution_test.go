package httpapi_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
)

// A Result marshals to the body the contract documents, and that body
// reads back into the same Result: the engine's JSON and
// ExecutionResponse are one shape.
func TestExecutionResponseIsTheResultsJSON(t *testing.T) {
	res := &computemw.Result{Stdout: "out", Stderr: "err", CompileOutput: "warn", ExitCode: 3,
		ExecutionTime: 1500 * time.Millisecond, CPUTime: 20 * time.Millisecond, PeakMemory: 1 << 20,
		SandboxID: "sb-1", Provider: "fake", Truncated: true}
	fromResult, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	fromBody, err := json.Marshal(httpapi.NewExecutionResponse(res))
	if err != nil {
		t.Fatal(err)
	}
	if string(fromResult) != string(fromBody) {
		t.Errorf("a Result marshals to\n%s\nthe contract's body is\n%s", fromResult, fromBody)
	}
	var back computemw.Result
	if err := json.Unmarshal(fromBody, &back); err != nil || back != *res {
		t.Errorf("read back %+v (%v), want %+v", back, err, *res)
	}
}
