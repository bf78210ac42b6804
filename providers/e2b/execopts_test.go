package e2b_test

import (
	"strings"
	"testing"

	"github.com/computemw/kit/computemw"
)

// Options E2B has no means for (a language version, compile options and
// limit, merged stderr) are refused, not ignored, and nothing runs.
func TestUnsupportedExecOptionsRefused(t *testing.T) {
	p, _ := newProvider(t, nil)
	sb, err := p.Create(t.Context(), computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(t.Context())
	_, err = sb.RunCode(t.Context(), "python", "print(1)", computemw.ExecOptions{Version: "3.12"})
	if e := computemw.AsError(err); e.Code != computemw.CodeExecution || !strings.Contains(e.Message, "not supported") {
		t.Errorf("RunCode with a version: %v, want Unsupported", err)
	}
	_, err = sb.Exec(t.Context(), "echo 1 >&2", computemw.ExecOptions{MergeStderr: true})
	if e := computemw.AsError(err); e.Code != computemw.CodeExecution || !strings.Contains(e.Message, "merging stderr") {
		t.Errorf("Exec with merged stderr: %v, want Unsupported", err)
	}
}
