package e2b_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/e2b"
	"github.com/computemw/kit/providers/e2b/e2bfake"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newProvider starts a fake and a provider on it; at the end of t the
// provider is closed and no sandbox may be left on the fake's books.
func newProvider(t *testing.T, change func(*e2b.Options)) (*e2b.Provider, *e2bfake.Fake) {
	t.Helper()
	f := e2bfake.New(t)
	opts := f.Options()
	if change != nil {
		change(&opts)
	}
	p, err := e2b.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		f.AssertNoneLive(t)
		if err := f.WaitNoProcesses(ctx); err != nil {
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
func create(t *testing.T, p *e2b.Provider, opts computemw.CreateOptions) *e2b.Sandbox {
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
	return sb.(*e2b.Sandbox)
}
