package modal_test

import (
	"context"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/modal"
	"github.com/computemw/kit/providers/modal/modalfake"
)

// newProvider starts a fake and a provider on it. When the test ends it
// closes the provider and checks the fake's books: no sandbox and no
// command left.
func newProvider(t *testing.T, opts modal.Options) (*modal.Provider, *modalfake.Server) {
	t.Helper()
	fake := modalfake.New(t, modalfake.Options{})
	return providerOn(t, fake, opts), fake
}

// providerOn makes a provider on a fake, closed and checked at cleanup.
func providerOn(t *testing.T, fake *modalfake.Server, opts modal.Options) *modal.Provider {
	t.Helper()
	opts.TokenID, opts.TokenSecret, opts.ServerURL = fake.TokenID, fake.TokenSecret, fake.URL
	if opts.CleanupWindow == 0 {
		opts.CleanupWindow = 5 * time.Second
	}
	if opts.RetryBase == 0 {
		opts.RetryBase = 5 * time.Millisecond
	}
	p, err := modal.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if live := fake.Live(); len(live) != 0 {
			t.Errorf("sandboxes left on the fake's books: %v", live)
		}
		if n := fake.Running(); n != 0 {
			t.Errorf("%d commands still running on the fake", n)
		}
	})
	return p
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func create(t *testing.T, p *modal.Provider, opts computemw.CreateOptions) *modal.Sandbox {
	t.Helper()
	sb, err := p.Create(ctxT(t, 20*time.Second), opts)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() {
		if err := sb.Destroy(context.Background()); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	return sb.(*modal.Sandbox)
}
