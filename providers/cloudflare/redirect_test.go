package cloudflare_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/cloudflare"
	"github.com/computemw/kit/providers/cloudflare/cloudflarefake"
	"github.com/computemw/kit/providers/internal/providertest"
)

// A bridge answer that redirects (to a service only the server can reach,
// or anywhere) is an UNAVAILABLE error, never followed: the target hears
// nothing, and the API key goes nowhere but the bridge, whatever the
// client the provider was given would do.
func TestRedirectsNotFollowed(t *testing.T) {
	var mu sync.Mutex
	var hits []string
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits = append(hits, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		_, _ = w.Write([]byte("internal secret"))
	}))
	t.Cleanup(internal.Close)
	p, f := newProvider(t, func(o *cloudflare.Options) {
		o.MaxRetries = -1
		o.HTTPClient.CheckRedirect = func(*http.Request, []*http.Request) error { return nil } // would follow anything
	})
	sb := create(t, p, computemw.CreateOptions{})
	ctx := testCtx(t)
	if err := sb.WriteFile(ctx, "f", []byte("mine")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		op  string
		run func() error
	}{
		{"readFile", func() error { _, err := sb.ReadFile(ctx, "f"); return err }},
		{"writeFile", func() error { return sb.WriteFile(ctx, "f", []byte("x")) }},
		{"execCommand", func() error { _, err := sb.Exec(ctx, "true", computemw.ExecOptions{}); return err }},
		{"isSandboxRunning", func() error { _, err := sb.Running(ctx); return err }},
	} {
		for _, status := range []int{301, 302, 307, 308} {
			f.Inject(cloudflarefake.Fault{Op: c.op, Status: status, Location: internal.URL + "/latest/meta-data"})
			err := c.run()
			e := providertest.WantCode(t, c.op+" redirected", err, computemw.CodeUnavailable)
			if e.Message != "provider cloudflare answered with a redirect, which is not followed" {
				t.Errorf("%s %d: message %q", c.op, status, e.Message)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hits) != 0 {
		t.Errorf("the redirect target was contacted: %v", hits)
	}
}

// An ID the bridge would refuse is NOT_FOUND on Attach, before any call;
// a bridge ID attaches without a call (the bridge cannot tell a live one).
func TestAttachByID(t *testing.T) {
	p, f := newProvider(t, nil)
	ctx := testCtx(t)
	for _, id := range []string{"", "UPPER", "sbx-1", "../x", "abc/def", string(make([]byte, 200))} {
		_, err := p.Attach(ctx, id)
		providertest.WantCode(t, "Attach("+id+")", err, computemw.CodeNotFound)
	}
	sb := create(t, p, computemw.CreateOptions{})
	before := len(f.Exchanges())
	att, err := p.Attach(ctx, sb.ID())
	if err != nil || att.ID() != sb.ID() {
		t.Fatalf("Attach: %v, %v", att, err)
	}
	if n := len(f.Exchanges()) - before; n != 0 {
		t.Errorf("Attach made %d calls", n)
	}
	p.Detach(att)
}
