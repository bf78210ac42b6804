package e2b_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/e2b"
	"github.com/computemw/kit/providers/e2b/e2bfake"
	"github.com/computemw/kit/providers/internal/providertest"
)

// internalServer stands for a service only the server can reach (a cloud
// metadata endpoint, an admin API): it counts the requests that reach it.
type internalServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits []string
}

func newInternalServer(t *testing.T) *internalServer {
	s := &internalServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits = append(s.hits, r.Method+" "+r.URL.String())
		s.mu.Unlock()
		_, _ = w.Write([]byte("internal secret"))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *internalServer) contacted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.hits...)
}

// check fails t if the internal server was contacted after its first
// from requests.
func (s *internalServer) check(t *testing.T, from int) {
	t.Helper()
	if hits := s.contacted()[from:]; len(hits) != 0 {
		t.Errorf("the internal server was contacted: %v", hits)
	}
}

// wire records every request the provider puts on the wire, with the
// credentials it carries. It dials the internal server for its address
// and the fake for every other.
type wire struct {
	next *http.Transport
	mu   sync.Mutex
	sent []sentRequest
}

type sentRequest struct {
	url           url.URL
	apiKey, token string
}

func (w *wire) RoundTrip(r *http.Request) (*http.Response, error) {
	w.mu.Lock()
	w.sent = append(w.sent, sentRequest{url: *r.URL, apiKey: r.Header.Get("X-API-Key"), token: r.Header.Get("X-Access-Token")})
	w.mu.Unlock()
	return w.next.RoundTrip(r)
}

func (w *wire) CloseIdleConnections() { w.next.CloseIdleConnections() }

// requests returns the requests sent since the first from.
func (w *wire) requests(from int) []sentRequest {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]sentRequest(nil), w.sent[from:]...)
}

func (w *wire) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.sent)
}

// redirectProvider starts a provider on the fake whose requests go
// through a wire that can also reach internal.
func redirectProvider(t *testing.T, internal *internalServer) (*e2b.Provider, *e2bfake.Fake, *wire) {
	w := &wire{}
	p, f := newProvider(t, func(o *e2b.Options) {
		tr := o.HTTPClient.Transport.(*http.Transport).Clone()
		toFake := tr.DialContext
		inside := internal.Listener.Addr().String()
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr == inside {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			}
			return toFake(ctx, network, addr)
		}
		w.next = tr
		// A client of the user's own that follows every redirect.
		o.HTTPClient = &http.Client{Transport: w, CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
	})
	return p, f, w
}

// checkWire fails t if, from the request numbered from on, a credential
// went to a host other than the one it is for, or a request was sent to
// target.
func checkWire(t *testing.T, w *wire, from int, envdHost string, target *url.URL) {
	t.Helper()
	for _, r := range w.requests(from) {
		if r.apiKey != "" && r.url.Host != "api."+e2bfake.Domain {
			t.Errorf("the API key was sent to %s", r.url.String())
		}
		if r.token != "" && r.url.Host != envdHost {
			t.Errorf("the envd access token was sent to %s", r.url.String())
		}
		if r.url.Host == target.Host && r.url.Path == target.Path && r.url.RawQuery == target.RawQuery {
			t.Errorf("the redirect to %s was followed", target)
		}
	}
}

// An answer of envd (which runs in the tenant's sandbox) that redirects,
// to a service inside the server's network, to the control plane or to
// another path of envd, is an error: it is not followed, and neither the
// API key nor the access token leaves its own origin. The client of the
// user's own that the provider is given follows every redirect.
func TestEnvdRedirectNotFollowed(t *testing.T) {
	internal := newInternalServer(t)
	p, f, w := redirectProvider(t, internal)
	sb := create(t, p, computemw.CreateOptions{})
	ctx := testCtx(t)
	if err := sb.WriteFile(ctx, "secret.txt", []byte("another file of the sandbox")); err != nil {
		t.Fatal(err)
	}
	if err := sb.WriteFile(ctx, "x.txt", []byte("x")); err != nil {
		t.Fatal(err)
	}
	envdHost := strconv.Itoa(e2bfake.EnvdPort) + "-" + sb.ID() + "." + e2bfake.Domain
	targets := map[string]string{
		"internal":      internal.URL + "/latest/meta-data/iam",
		"control plane": "https://api." + e2bfake.Domain + "/v2/sandboxes",
		"same host":     "/files?path=%2Fhome%2Fuser%2Fsecret.txt",
	}
	ops := map[string]struct {
		fault string
		do    func() error
	}{
		"ReadFile": {e2bfake.OpDownload, func() error {
			data, err := sb.ReadFile(ctx, "x.txt")
			if err == nil {
				t.Errorf("ReadFile returned %q", data)
			}
			return err
		}},
		"Exec": {e2bfake.OpStart, func() error {
			_, err := sb.Exec(ctx, "echo hi", computemw.ExecOptions{})
			return err
		}},
		"Stat": {e2bfake.OpStat, func() error {
			_, err := sb.Stat(ctx, "x.txt")
			return err
		}},
	}
	for opName, op := range ops {
		for targetName, loc := range targets {
			for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect} {
				t.Run(opName+"/"+targetName+"/"+strconv.Itoa(status), func(t *testing.T) {
					target, err := url.Parse(loc)
					if err != nil {
						t.Fatal(err)
					}
					if target.Host == "" {
						target.Scheme, target.Host = "https", envdHost
					}
					before, from, hits := f.Count(op.fault), w.count(), len(internal.contacted())
					f.Inject(e2bfake.Fault{Op: op.fault, Status: status, Location: loc})
					err = op.do()
					internal.check(t, hits)
					checkWire(t, w, from, envdHost, target)
					if n := f.Count(op.fault) - before; n != 1 {
						t.Errorf("%d requests to envd, want 1 (a redirect is not retried)", n)
					}
					e := providertest.WantCode(t, opName, err, computemw.CodeUnavailable)
					if !strings.Contains(e.Message, "redirect") {
						t.Errorf("message %q does not say the answer was a redirect", e.Message)
					}
				})
			}
		}
	}
}

// A redirect from the control plane is not followed either: no vendor API
// documents one, and the API key stays on the control plane's origin.
func TestControlPlaneRedirectNotFollowed(t *testing.T) {
	internal := newInternalServer(t)
	p, f, w := redirectProvider(t, internal)
	sb := create(t, p, computemw.CreateOptions{})
	ctx := testCtx(t)
	for _, loc := range []string{internal.URL + "/admin", "/v2/sandboxes?limit=100"} {
		for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect} {
			t.Run(loc+"/"+strconv.Itoa(status), func(t *testing.T) {
				target, _ := url.Parse(loc)
				if target.Host == "" {
					target.Scheme, target.Host = "https", "api."+e2bfake.Domain
				}
				before, from, hits := f.Count(e2bfake.OpGet), w.count(), len(internal.contacted())
				f.Inject(e2bfake.Fault{Op: e2bfake.OpGet, Status: status, Location: loc})
				_, err := p.Get(ctx, sb.ID())
				internal.check(t, hits)
				checkWire(t, w, from, "", target)
				if n := f.Count(e2bfake.OpGet) - before; n != 1 {
					t.Errorf("%d get requests, want 1 (a redirect is not retried)", n)
				}
				e := providertest.WantCode(t, "Get", err, computemw.CodeUnavailable)
				if !strings.Contains(e.Message, "redirect") {
					t.Errorf("message %q does not say the answer was a redirect", e.Message)
				}
			})
		}
	}
}
