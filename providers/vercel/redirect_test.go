package vercel_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/internal/providertest"
	"github.com/computemw/kit/providers/vercel"
	"github.com/computemw/kit/providers/vercel/vercelfake"
)

// wire records every request the provider puts on the wire, with the
// token it carries.
type wire struct {
	next *http.Transport
	mu   sync.Mutex
	sent []sentRequest
}

type sentRequest struct {
	url  url.URL
	auth string
}

func (w *wire) RoundTrip(r *http.Request) (*http.Response, error) {
	w.mu.Lock()
	w.sent = append(w.sent, sentRequest{url: *r.URL, auth: r.Header.Get("Authorization")})
	w.mu.Unlock()
	return w.next.RoundTrip(r)
}

func (w *wire) CloseIdleConnections() { w.next.CloseIdleConnections() }

// An answer that redirects, to a service inside the server's network or
// to another path of the API, is an error of class UNAVAILABLE: it is not
// followed, not retried, and the token never leaves the API's origin —
// even with an HTTP client of the user's own that follows every redirect.
func TestRedirectNotFollowed(t *testing.T) {
	var hits sync.Map
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Store(r.URL.String(), true)
		w.Write([]byte("internal secret"))
	}))
	t.Cleanup(internal.Close)
	w := &wire{next: http.DefaultTransport.(*http.Transport).Clone()}
	p, fake := newProvider(t, vercelfake.Options{}, vercel.Options{
		HTTPClient: &http.Client{Transport: w, CheckRedirect: func(*http.Request, []*http.Request) error { return nil }},
	})
	sb := create(t, p, computemw.CreateOptions{})
	ctx := ctxT(t, 30*time.Second)
	if err := sb.WriteFile(ctx, "x.txt", []byte("x")); err != nil {
		t.Fatal(err)
	}
	home, _ := url.Parse(fake.URL)
	ops := map[string]func() error{
		"readFile": func() error { _, err := sb.ReadFile(ctx, "x.txt"); return err },
		"runCommand": func() error {
			_, err := sb.Exec(ctx, "echo hi", computemw.ExecOptions{})
			return err
		},
		"getSession": func() error { _, err := p.Attach(ctx, sb.ID()); return err },
	}
	for op, do := range ops {
		for _, loc := range []string{internal.URL + "/latest/meta-data", "/api/v2/sandboxes/sessions/" + sb.ID()} {
			for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
				t.Run(op+"/"+strconv.Itoa(status), func(t *testing.T) {
					before := fake.Calls(op)
					fake.Inject(vercelfake.Fault{Op: op, Status: status, Location: loc})
					e := providertest.WantCode(t, op, do(), computemw.CodeUnavailable)
					if !strings.Contains(e.Message, "redirect") {
						t.Errorf("message %q does not say the answer was a redirect", e.Message)
					}
					if n := fake.Calls(op) - before; n != 1 {
						t.Errorf("%s called %d times, want 1 (a redirect is neither followed nor retried)", op, n)
					}
				})
			}
		}
	}
	hits.Range(func(k, _ any) bool {
		t.Errorf("the internal server was contacted: %v", k)
		return true
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.sent {
		if r.url.Host != home.Host {
			t.Errorf("a request went to %s", r.url.String())
		}
		if r.auth != "Bearer "+fake.Token {
			t.Errorf("%s was sent without the token", r.url.Path)
		}
		if strings.HasPrefix(r.url.Path, "/api/v1/") {
			t.Errorf("the retired v1 API was called: %s", r.url.Path)
		}
	}
}
