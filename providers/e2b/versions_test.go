package e2b_test

import (
	"strings"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/e2b"
	"github.com/computemw/kit/providers/e2b/e2bfake"
	"github.com/computemw/kit/providers/internal/providertest"
)

// The provider reads the sandbox's envdVersion and uses only what that
// envd has: below 0.5.7 files go up as multipart forms, below 0.4.0 the
// user is named, below 0.3.0 the start request carries no stdin field,
// and below 0.5.2 (no CloseStdin) standard input is refused as not
// supported. The fake reports any gated feature used below its version.
func TestEnvdVersions(t *testing.T) {
	for _, v := range []string{"0.2.9", "0.3.0", "0.4.0", "0.5.1", "0.5.2", "0.5.6", e2bfake.DefaultEnvdVersion, "0.6.4"} {
		t.Run(v, func(t *testing.T) {
			p, f := newProvider(t, nil)
			f.SetEnvdVersion(v)
			sb := create(t, p, computemw.CreateOptions{})
			ctx := testCtx(t)
			// Standard input first: the start request's stdin field and
			// CloseStdin are gated too.
			res, err := sb.Exec(ctx, "cat", computemw.ExecOptions{Stdin: strings.NewReader("in")})
			if v < "0.5.2" {
				if err == nil {
					t.Errorf("Exec with stdin on envd %s = %+v, want not supported", v, res)
				} else if e := computemw.AsError(err); e.Code != computemw.CodeExecution ||
					!strings.Contains(e.Message, "not supported") || !strings.Contains(e.Message, v) {
					t.Errorf("Exec with stdin on envd %s: %v, want EXECUTION_ERROR naming the lack of support and the version", v, err)
				}
			} else if err != nil || res.Stdout != "in" {
				t.Errorf("Exec with stdin = %+v, %v", res, err)
			}
			if res, err := sb.Exec(ctx, "echo out", computemw.ExecOptions{}); err != nil || res.Stdout != "out\n" {
				t.Errorf("Exec = %+v, %v", res, err)
			}
			if err := sb.WriteFile(ctx, "dir/a.txt", []byte("content")); err != nil {
				t.Errorf("WriteFile: %v", err)
			}
			if got, err := sb.ReadFile(ctx, "dir/a.txt"); err != nil || string(got) != "content" {
				t.Errorf("ReadFile = %q, %v", got, err)
			}
			if res, err := sb.RunCode(ctx, "sh", "cat dir/a.txt", computemw.ExecOptions{}); err != nil || res.Stdout != "content" {
				t.Errorf("RunCode = %+v, %v", res, err)
			}
		})
	}
}

// A sandbox reached by Connect is held to the envdVersion of the connect
// answer, as one from Create.
func TestConnectReadsEnvdVersion(t *testing.T) {
	p, f := newProvider(t, nil)
	f.SetEnvdVersion("0.3.5")
	made := create(t, p, computemw.CreateOptions{})
	opts := f.Options()
	defer opts.HTTPClient.CloseIdleConnections()
	other, err := e2b.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	sb, err := other.Connect(ctx, made.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.WriteFile(ctx, "a.txt", []byte("x")); err != nil {
		t.Errorf("WriteFile: %v", err)
	}
	if res, err := sb.Exec(ctx, "cat a.txt", computemw.ExecOptions{}); err != nil || res.Stdout != "x" {
		t.Errorf("Exec = %+v, %v", res, err)
	}
	_, err = sb.Exec(ctx, "cat", computemw.ExecOptions{Stdin: strings.NewReader("in")})
	providertest.WantCode(t, "Exec with stdin on envd 0.3.5", err, computemw.CodeExecution)
	// The sandbox is the first provider's: the second lets go of it.
	other.Detach(sb)
	if err := other.Close(ctx); err != nil {
		t.Error(err)
	}
}
