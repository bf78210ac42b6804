package vendorhttp_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// recorder is a loopback server that records the requests it gets.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen []http.Header // headers of every request, in order
	path []string
}

func newRecorder(t *testing.T, h http.HandlerFunc) *recorder {
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.seen = append(r.seen, req.Header.Clone())
		r.path = append(r.path, req.URL.Path)
		r.mu.Unlock()
		if h != nil {
			h(w, req)
			return
		}
		_, _ = io.WriteString(w, "internal secret")
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) requests() ([]http.Header, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen, r.path
}

var creds = http.Header{"X-Api-Key": {"k-123"}}

// The credentials reach the origin, on every request.
func TestCredentialsSentToOrigin(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	c, err := vendorhttp.New(srv.Client(), srv.URL+"/api/", creds)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/other/path", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "ok" {
			t.Fatalf("body %q", b)
		}
		if req.Header.Get("X-Api-Key") != "" {
			t.Error("the caller's request was changed")
		}
	}
	seen, _ := srv.requests()
	if len(seen) != 2 {
		t.Fatalf("%d requests arrived, want 2", len(seen))
	}
	for _, h := range seen {
		if got := h.Get("X-Api-Key"); got != "k-123" {
			t.Errorf("X-Api-Key = %q at the origin", got)
		}
	}
}

// A request for another origin is refused before anything is sent; an
// equal origin spelled differently (case, default port) is the same.
func TestOtherOriginRefused(t *testing.T) {
	other := newRecorder(t, nil)
	c, err := vendorhttp.New(nil, "HTTPS://API.Example.com", creds)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{other.URL, "http://api.example.com", "https://api.example.com:8443/x", "https://example.com"} {
		resp, err := c.Post(u, "text/plain", strings.NewReader("body"))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s: no error", u)
		}
		var oe *vendorhttp.OriginError
		if !errors.As(err, &oe) || !vendorhttp.Permanent(err) {
			t.Fatalf("%s: %v, want an OriginError", u, err)
		}
	}
	if seen, _ := other.requests(); len(seen) != 0 {
		t.Errorf("%d requests reached another origin", len(seen))
	}

	// The same origin spelled otherwise is the same origin.
	var sent []string
	stub := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent = append(sent, r.URL.String()+" "+r.Header.Get("X-Api-Key"))
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
	})}
	c, err = vendorhttp.New(stub, "HTTPS://API.Example.com/api", creds)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"https://api.example.com/x", "https://api.example.com:443/x", "https://API.example.COM/"} {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		resp.Body.Close()
	}
	if len(sent) != 3 {
		t.Fatalf("sent %v", sent)
	}
	for _, s := range sent {
		if !strings.HasSuffix(s, " k-123") {
			t.Errorf("sent without the credentials: %s", s)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// No redirect is followed, to another origin or to the same one, whatever
// the base client's CheckRedirect says; the caller gets a RedirectError
// and the target never hears of it.
func TestRedirectsNotFollowed(t *testing.T) {
	internal := newRecorder(t, nil)
	var agent *recorder
	agent = newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/same" {
			_, _ = io.WriteString(w, "another tenant's file")
			return
		}
		status, _ := strconv.Atoi(r.URL.Query().Get("status"))
		target := internal.URL + "/latest/meta-data"
		if r.URL.Query().Get("to") == "same" {
			target = agent.URL + "/same"
		}
		http.Redirect(w, r, target, status)
	})
	base := agent.Client()
	base.CheckRedirect = func(*http.Request, []*http.Request) error { return nil } // follows anything
	c, err := vendorhttp.New(base, agent.URL, creds)
	if err != nil {
		t.Fatal(err)
	}
	for _, status := range []int{301, 302, 303, 307, 308} {
		for _, to := range []string{"internal", "same"} {
			resp, err := c.Get(agent.URL + "/files?status=" + strconv.Itoa(status) + "&to=" + to)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				t.Fatalf("%d to %s: status %d, body %q; want an error", status, to, resp.StatusCode, b)
			}
			var re *vendorhttp.RedirectError
			if !errors.As(err, &re) || re.Status != status || !vendorhttp.Permanent(err) {
				t.Fatalf("%d to %s: %v, want a RedirectError", status, to, err)
			}
			if !strings.Contains(re.Location, "/") {
				t.Errorf("Location %q", re.Location)
			}
		}
	}
	if seen, _ := internal.requests(); len(seen) != 0 {
		t.Errorf("the internal server was contacted %d times", len(seen))
	}
	_, paths := agent.requests()
	for _, p := range paths {
		if p != "/files" {
			t.Errorf("the agent's host was asked for %s", p)
		}
	}
}

// An invalid base URL is refused.
func TestNewInvalidBase(t *testing.T) {
	for _, u := range []string{"", "api.example.com", "ftp://x", "https://", "/relative", "http://[::1"} {
		if _, err := vendorhttp.New(nil, u, nil); err == nil {
			t.Errorf("New(%q): no error", u)
		}
	}
}

// A cookie jar of the base client is not used: a cookie an agent sets is
// never sent back (to it or, on a shared host, for another sandbox).
func TestBaseJarIgnored(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "tenant-chosen", Path: "/"})
	})
	base := srv.Client()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	base.Jar = jar
	c, err := vendorhttp.New(base, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		resp, err := c.Get(srv.URL + "/files")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	seen, _ := srv.requests()
	if len(seen) != 2 {
		t.Fatalf("%d requests", len(seen))
	}
	if got := seen[1].Get("Cookie"); got != "" {
		t.Errorf("the second request sent Cookie %q", got)
	}
}
