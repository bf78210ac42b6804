package vercel_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/vercel"
	"github.com/computemw/kit/providers/vercel/vercelfake"
)

// newProvider starts a fake and a provider on it. When the test ends it
// closes the provider and checks the fake's books: no session and no
// command left running.
func newProvider(t *testing.T, fopts vercelfake.Options, opts vercel.Options) (*vercel.Provider, *vercelfake.Server) {
	t.Helper()
	fake := vercelfake.New(t, fopts)
	p := providerOn(t, fake, opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if live := fake.Live(); len(live) != 0 {
			t.Errorf("sandboxes left running on the fake's books: %v", live)
		}
		if n := fake.Running(); n != 0 {
			t.Errorf("%d commands still running on the fake", n)
		}
	})
	return p, fake
}

// providerOn makes a provider on an existing fake (not closed by the
// test: the caller closes it).
func providerOn(t *testing.T, fake *vercelfake.Server, opts vercel.Options) *vercel.Provider {
	t.Helper()
	opts.Token, opts.TeamID, opts.ProjectID, opts.APIURL = fake.Token, fake.TeamID, fake.ProjectID, fake.URL
	if opts.PollInterval == 0 {
		opts.PollInterval = 5 * time.Millisecond
	}
	if opts.MaxPollInterval == 0 {
		opts.MaxPollInterval = 50 * time.Millisecond
	}
	if opts.CleanupWindow == 0 {
		opts.CleanupWindow = 5 * time.Second
	}
	p, err := vercel.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func create(t *testing.T, p *vercel.Provider, opts computemw.CreateOptions) *vercel.Sandbox {
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
	return sb.(*vercel.Sandbox)
}

// signalWriter collects what is written and closes seen once it holds
// want.
type signalWriter struct {
	want string
	seen chan struct{}

	mu   sync.Mutex
	b    strings.Builder
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if strings.Contains(w.b.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
