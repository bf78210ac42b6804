package e2b_test

import (
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/e2b"
	"github.com/computemw/kit/providers/e2b/e2bfake"
	"github.com/computemw/kit/providers/internal/providertest"
)

// An empty file still goes up with a body (envd's API requires one), at
// an envd that takes raw bodies and at one that takes forms only.
func TestEmptyUpload(t *testing.T) {
	for _, v := range []string{e2bfake.DefaultEnvdVersion, "0.5.0"} {
		t.Run(v, func(t *testing.T) {
			p, f := newProvider(t, nil)
			f.SetEnvdVersion(v)
			sb := create(t, p, computemw.CreateOptions{})
			ctx := testCtx(t)
			if err := sb.WriteFile(ctx, "full.txt", []byte("x")); err != nil {
				t.Fatal(err)
			}
			if err := sb.WriteFile(ctx, "full.txt", nil); err != nil {
				t.Fatalf("WriteFile of nothing: %v", err)
			}
			if got, err := sb.ReadFile(ctx, "full.txt"); err != nil || len(got) != 0 {
				t.Fatalf("ReadFile = %q, %v; want the file emptied", got, err)
			}
			if res, err := sb.RunCode(ctx, "sh", "", computemw.ExecOptions{}); err != nil || res.ExitCode != 0 {
				t.Fatalf("RunCode of no code = %+v, %v", res, err)
			}
		})
	}
}

// envd's /files answers 401 for a user it does not know: the caller's
// input (BAD_REQUEST, not retried), not refused credentials (503).
func TestUnknownUserIsBadRequest(t *testing.T) {
	p, f := newProvider(t, func(o *e2b.Options) { o.User = "nobody" })
	sb := create(t, p, computemw.CreateOptions{})
	ctx := testCtx(t)
	providertest.WantCode(t, "WriteFile as an unknown user", sb.WriteFile(ctx, "a.txt", []byte("x")), computemw.CodeBadRequest)
	_, err := sb.ReadFile(ctx, "a.txt")
	providertest.WantCode(t, "ReadFile as an unknown user", err, computemw.CodeBadRequest)
	if n := f.Count(e2bfake.OpDownload); n != 1 {
		t.Errorf("%d downloads, want 1 (not retried)", n)
	}
}
