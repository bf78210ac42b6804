package execopts_test

import (
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/internal/execopts"
)

func TestRefuse(t *testing.T) {
	if err := execopts.Refuse("e2b", computemw.ExecOptions{Timeout: time.Second, Args: []string{"x"}}); err != nil {
		t.Errorf("options every provider honours: %v", err)
	}
	for _, c := range []struct {
		opts computemw.ExecOptions
		says string
	}{
		{computemw.ExecOptions{Version: "3.12"}, "language version"},
		{computemw.ExecOptions{CompileOptions: []string{"-O0"}}, "compile options"},
		{computemw.ExecOptions{CompileTimeout: time.Second}, "compile time limit"},
		{computemw.ExecOptions{MergeStderr: true}, "merging stderr"},
	} {
		e := computemw.AsError(execopts.Refuse("e2b", c.opts))
		if e.Code != computemw.CodeExecution || !strings.Contains(e.Message, c.says) || !strings.Contains(e.Message, `"e2b"`) {
			t.Errorf("%+v: %v, want Unsupported naming %q", c.opts, e, c.says)
		}
	}
}
