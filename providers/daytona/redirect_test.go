package daytona_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/daytona"
	"github.com/computemw/kit/providers/daytona/daytonafake"
	"github.com/computemw/kit/providers/internal/providertest"
)

// internalServer stands for a service only the server can reach (a cloud
// metadata endpoint, an admin API): it records the requests that reach it.
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

func (s *internalServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.hits)
}

// check fails t if the internal server was contacted after its first
// from requests.
func (s *internalServer) check(t *testing.T, from int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if hits := s.hits[from:]; len(hits) != 0 {
		t.Errorf("the internal server was contacted: %v", hits)
	}
}

// wire records every request the provider puts on the wire, with the
// credentials it carries.
type wire struct {
	next *http.Transport
	mu   sync.Mutex
	sent []sentRequest
}

type sentRequest struct {
	url        url.URL
	auth, org  string
	methodPath string
}

func (w *wire) RoundTrip(r *http.Request) (*http.Response, error) {
	w.mu.Lock()
	w.sent = append(w.sent, sentRequest{url: *r.URL, auth: r.Header.Get("Authorization"), org: r.Header.Get("X-Daytona-Organization-ID")})
	w.mu.Unlock()
	return w.next.RoundTrip(r)
}

func (w *wire) CloseIdleConnections() { w.next.CloseIdleConnections() }

func (w *wire) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.sent)
}

// check fails t if, from the request numbered from on, a credential went
// to another origin than the fake's, the organization ID went to a
// toolbox, or a request was sent to target.
func (w *wire) check(t *testing.T, from int, fake *daytonafake.Server, target *url.URL) {
	t.Helper()
	home, _ := url.Parse(fake.URL)
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.sent[from:] {
		if (r.auth != "" || r.org != "") && (r.url.Scheme != home.Scheme || r.url.Host != home.Host) {
			t.Errorf("credentials were sent to %s", r.url.String())
		}
		if r.org != "" && !strings.HasPrefix(r.url.Path, "/api/") {
			t.Errorf("the organization ID was sent to %s", r.url.String())
		}
		if r.url.Host == target.Host && r.url.Path == target.Path && r.url.RawQuery == target.RawQuery {
			t.Errorf("the redirect to %s was followed", target)
		}
	}
}

// redirectProvider starts a provider on a fake, with a client of the
// user's own that follows every redirect.
func redirectProvider(t *testing.T, opts daytona.Options) (*daytona.Provider, *daytonafake.Server, *wire) {
	w := &wire{next: http.DefaultTransport.(*http.Transport).Clone()}
	opts.HTTPClient = &http.Client{Transport: w, CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
	p, fake := newProvider(t, daytonafake.Options{}, opts)
	return p, fake, w
}

func absolute(fake *daytonafake.Server, loc string) *url.URL {
	base, _ := url.Parse(fake.URL)
	u, _ := url.Parse(loc)
	return base.ResolveReference(u)
}

// An answer of the toolbox (which runs in the tenant's sandbox) that
// redirects, to a service inside the server's network, to the control
// plane, or to another tenant's sandbox on the same host, is an error: it
// is not followed, and the API key does not leave Daytona's origin.
func TestToolboxRedirectNotFollowed(t *testing.T) {
	internal := newInternalServer(t)
	p, fake, w := redirectProvider(t, daytona.Options{})
	sb := create(t, p, computemw.CreateOptions{})
	other := create(t, p, computemw.CreateOptions{})
	ctx := ctxT(t, 60*time.Second)
	if err := other.WriteFile(ctx, "secret.txt", []byte("another tenant's file")); err != nil {
		t.Fatal(err)
	}
	if err := sb.WriteFile(ctx, "x.txt", []byte("x")); err != nil {
		t.Fatal(err)
	}
	otherFile := filepath.Join(fake.Root(), other.ID(), "home", "daytona", "secret.txt")
	targets := map[string]string{
		"internal":      internal.URL + "/latest/meta-data/iam",
		"control plane": "/api/sandbox",
		"other sandbox": "/toolbox/" + other.ID() + "/files/download?path=" + url.QueryEscape(otherFile),
	}
	ops := map[string]struct {
		fault string
		do    func() error
	}{
		"ReadFile": {"DownloadFile", func() error {
			data, err := sb.ReadFile(ctx, "x.txt")
			if err == nil {
				t.Errorf("ReadFile returned %q", data)
			}
			return err
		}},
		"Exec": {"SessionExecuteCommand", func() error {
			_, err := sb.Exec(ctx, "echo hi", computemw.ExecOptions{})
			return err
		}},
		"Stat": {"GetFileInfo", func() error {
			_, err := sb.Stat(ctx, "x.txt")
			return err
		}},
	}
	for opName, op := range ops {
		for targetName, loc := range targets {
			for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect} {
				t.Run(opName+"/"+targetName+"/"+strconv.Itoa(status), func(t *testing.T) {
					before, from, hits := fake.Calls(op.fault), w.count(), internal.count()
					fake.Inject(daytonafake.Fault{Op: op.fault, Status: status, Location: loc})
					err := op.do()
					internal.check(t, hits)
					w.check(t, from, fake, absolute(fake, loc))
					if n := fake.Calls(op.fault) - before; n != 1 {
						t.Errorf("%s called %d times, want 1 (a redirect is not retried)", op.fault, n)
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
// documents one, and the API key and organization ID stay on the control
// plane's origin.
func TestControlPlaneRedirectNotFollowed(t *testing.T) {
	internal := newInternalServer(t)
	p, fake, w := redirectProvider(t, daytona.Options{OrganizationID: "org-1"})
	sb := create(t, p, computemw.CreateOptions{})
	ctx := ctxT(t, 30*time.Second)
	for name, loc := range map[string]string{"internal": internal.URL + "/admin", "same host": "/api/sandbox"} {
		for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect} {
			t.Run(name+"/"+strconv.Itoa(status), func(t *testing.T) {
				before, from, hits := fake.Calls("getSandbox"), w.count(), internal.count()
				fake.Inject(daytonafake.Fault{Op: "getSandbox", Status: status, Location: loc})
				_, err := p.Get(ctx, sb.ID())
				internal.check(t, hits)
				w.check(t, from, fake, absolute(fake, loc))
				if n := fake.Calls("getSandbox") - before; n != 1 {
					t.Errorf("getSandbox called %d times, want 1 (a redirect is not retried)", n)
				}
				e := providertest.WantCode(t, "Get", err, computemw.CodeUnavailable)
				if !strings.Contains(e.Message, "redirect") {
					t.Errorf("message %q does not say the answer was a redirect", e.Message)
				}
			})
		}
	}
}
