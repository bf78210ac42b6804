package cloudflare_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/cloudflare"
	"github.com/computemw/kit/providers/cloudflare/cloudflarefake"
)

// newProvider starts a fake and a provider on it; at the end of t the
// provider is closed, and nothing may be left on the fake's books: no
// container, command or terminal.
func newProvider(t *testing.T, change func(*cloudflare.Options)) (*cloudflare.Provider, *cloudflarefake.Server) {
	t.Helper()
	f := cloudflarefake.New(t)
	opts := f.Options()
	if change != nil {
		change(&opts)
	}
	p, err := cloudflare.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		f.AssertNoneLive(t)
		if err := f.WaitIdle(ctx); err != nil {
			t.Error(err)
		}
		opts.HTTPClient.CloseIdleConnections()
	})
	return p, f
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// create makes a sandbox that is destroyed when t ends.
func create(t *testing.T, p *cloudflare.Provider, opts computemw.CreateOptions) *cloudflare.Sandbox {
	t.Helper()
	sb, err := p.Create(testCtx(t), opts)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() {
		if err := sb.Destroy(context.Background()); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	return sb.(*cloudflare.Sandbox)
}

// readUntil reads the terminal until every want has appeared.
func readUntil(t *testing.T, r io.Reader, want ...string) string {
	t.Helper()
	var out strings.Builder
	buf := make([]byte, 4096)
	for {
		done := true
		for _, w := range want {
			if !strings.Contains(out.String(), w) {
				done = false
			}
		}
		if done {
			return out.String()
		}
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			t.Fatalf("read: %v; output %q, want %q", err, out.String(), want)
		}
	}
}
