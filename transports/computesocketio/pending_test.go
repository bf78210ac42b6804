package computesocketio_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/computemw/httpapi"
	computesocketio "github.com/computemw/kit/transports/computesocketio"
)

// pendingServer is a kit authenticating JWTs signed with secret, with
// kc's hosts, origins and proxies, and its Socket.IO server with cfg,
// served on loopback; both are closed at cleanup (the server first).
func pendingServer(t *testing.T, kc computemw.Config, cfg computesocketio.Config) (*computesocketio.Server, string) {
	t.Helper()
	authn, err := auth.New(auth.Config{JWT: &auth.JWTConfig{Algorithms: []string{"HS256"},
		Keys: []auth.JWTKey{{Algorithm: "HS256", Key: secret}}}})
	if err != nil {
		t.Fatal(err)
	}
	kc.Providers = []computemw.Provider{fakeprovider.New("fake")}
	kc.Policies = []computemw.Policy{authn}
	kit, err := computemw.New(kc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := kit.Close(ctx); err != nil {
			t.Errorf("kit.Close: %v", err)
		}
	})
	srv := computesocketio.New(kit, cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	mux := http.NewServeMux()
	mux.Handle(srv.Path(), srv.Handler())
	return srv, serve(t, mux)
}

// eio is a raw Engine.IO v4 client over HTTP long-polling.
type eio struct {
	t      *testing.T
	client *http.Client
	url    string // of the endpoint, without a query
}

func newEIO(t *testing.T, base string, conns int) *eio {
	tr := &http.Transport{MaxIdleConnsPerHost: conns}
	t.Cleanup(tr.CloseIdleConnections)
	return &eio{t: t, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}, url: base + computesocketio.DefaultPath}
}

// answer is an HTTP response of the endpoint.
type answer struct {
	status     int
	body       string
	retryAfter string
}

// do sends a request with query and headers (a "Host" header sets the
// request's Host).
func (c *eio) do(ctx context.Context, method, query, body string, header map[string]string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url+"?"+query, strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: string(b), retryAfter: resp.Header.Get("Retry-After")}, err
}

// handshake opens a session by polling.
func (c *eio) handshake(header map[string]string) answer {
	c.t.Helper()
	a, err := c.do(c.t.Context(), http.MethodGet, "EIO=4&transport=polling", "", header)
	if err != nil {
		c.t.Fatal(err)
	}
	return a
}

// sid is the session ID of a handshake's answer ("0{...}"), or "".
func sid(a answer) string {
	var open struct {
		SID string `json:"sid"`
	}
	if a.status != http.StatusOK || !strings.HasPrefix(a.body, "0") || json.Unmarshal([]byte(a.body[1:]), &open) != nil {
		return ""
	}
	return open.SID
}

// poll reads the session's next packets, waiting up to 20s for them.
func (c *eio) poll(id string) answer {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 20*time.Second)
	defer cancel()
	a, err := c.do(ctx, http.MethodGet, "EIO=4&transport=polling&sid="+id, "", nil)
	if err != nil {
		c.t.Fatalf("poll: %v", err)
	}
	return a
}

// send posts packets to the session.
func (c *eio) send(id, packets string) {
	c.t.Helper()
	a, err := c.do(c.t.Context(), http.MethodPost, "EIO=4&transport=polling&sid="+id, packets, nil)
	if err != nil || a.status != http.StatusOK {
		c.t.Fatalf("send %q: %v %+v", packets, err, a)
	}
}

// code is the kit's error code in an error body, or "".
func code(a answer) string {
	var e httpapi.ErrorBody
	if json.Unmarshal([]byte(a.body), &e) != nil || e.Error == "" {
		return ""
	}
	return string(e.Code)
}

// waitFor polls cond until it holds, for at most 20s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not %s after 20s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// liveHeap is the memory the program holds once garbage is collected:
// its heap objects and its goroutines' stacks.
func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

// TestPendingMemoryBounded: 10,000 handshakes that never connect hold no
// more memory than the cap of sessions waiting to be admitted: past the
// client's share they get 429 RATE_LIMITED, past the total 503
// UNAVAILABLE, both in the kit's error body with Retry-After, and the
// Engine.IO server makes no session for them. (Every session held costs
// the server some 17 KB; 10,000 held would be about 170 MB.)
func TestPendingMemoryBounded(t *testing.T) {
	const maxPending, perClient, handshakes = 256, 8, 10_000
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	srv, base := pendingServer(t, computemw.Config{TrustedProxies: trusted}, computesocketio.Config{
		ConnectTimeout: 10 * time.Minute, PingInterval: 10 * time.Minute,
		MaxPendingConns: maxPending, MaxPendingConnsPerClient: perClient})
	const workers = 16
	c := newEIO(t, base, workers)
	c.handshake(nil) // warm up the server's and the client's connections
	before := liveHeap()
	held := srv.PendingConns()

	// One address: its share, then 429.
	var ok, limited int
	for range 4 * perClient {
		switch a := c.handshake(nil); {
		case sid(a) != "":
			ok++
		case a.status == http.StatusTooManyRequests && code(a) == "RATE_LIMITED" && a.retryAfter != "":
			limited++
		default:
			t.Fatalf("handshake from one address: %+v", a)
		}
	}
	if want := perClient - held; ok != want || limited != 4*perClient-want {
		t.Errorf("one address: %d sessions and %d refused with 429, want %d and %d", ok, limited, want, 4*perClient-want)
	}

	// Many addresses (through the trusted proxy): the total, then 503.
	var mu sync.Mutex
	counts := map[string]int{}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				xff := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
				a, err := c.do(t.Context(), http.MethodGet, "EIO=4&transport=polling", "", map[string]string{"X-Forwarded-For": xff})
				kind := "error: " + fmt.Sprint(err)
				switch {
				case err != nil:
				case sid(a) != "":
					kind = "session"
				case a.status == http.StatusServiceUnavailable && code(a) == "UNAVAILABLE" && a.retryAfter != "":
					kind = "503"
				default:
					kind = fmt.Sprintf("%d %s", a.status, a.body)
				}
				mu.Lock()
				counts[kind]++
				mu.Unlock()
			}
		})
	}
	for i := range handshakes {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if want := maxPending - perClient; counts["session"] != want || counts["503"] != handshakes-want || len(counts) != 2 {
		t.Errorf("many addresses: %v, want %d sessions and %d refused with 503", counts, want, handshakes-want)
	}
	if n := srv.PendingConns(); n != maxPending {
		t.Errorf("PendingConns = %d, want the cap %d", n, maxPending)
	}

	after := liveHeap()
	grown := int64(after) - int64(before)
	t.Logf("memory held after %d handshakes: %+d KiB (%d sessions)", handshakes+4*perClient, grown/1024, srv.PendingConns())
	// The cap's sessions take some 4 MB; without a cap 10,000 take ~170 MB.
	if limit := int64(40 << 20); grown > limit {
		t.Errorf("the server holds %d MiB more after the handshakes, want at most %d MiB", grown>>20, limit>>20)
	}
}

// TestHandshakeHostOrigin: a handshake for a host the kit does not serve,
// or from a page it does not allow, is refused with 403 FORBIDDEN in the
// kit's error body, by polling and by WebSocket, and makes no session;
// without lists, pages of other origins are refused as by the kit's
// WebSocket.
func TestHandshakeHostOrigin(t *testing.T) {
	upgrade := map[string]string{"Connection": "Upgrade", "Upgrade": "websocket",
		"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
	with := func(h map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range h {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	wsHandshake := func(c *eio, h map[string]string) answer {
		t.Helper()
		a, err := c.do(t.Context(), http.MethodGet, "EIO=4&transport=websocket", "", with(upgrade, flatten(h)...))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}

	t.Run("lists", func(t *testing.T) {
		srv, base := pendingServer(t, computemw.Config{AllowedHosts: []string{"127.0.0.1"},
			AllowedOrigins: []string{"https://app.example"}}, computesocketio.Config{})
		c := newEIO(t, base, 1)
		for _, h := range []map[string]string{
			{"Host": "evil.example"},
			{"Origin": "https://evil.example"},
		} {
			if a := c.handshake(h); a.status != http.StatusForbidden || code(a) != "FORBIDDEN" {
				t.Errorf("polling handshake with %v: %+v, want 403 FORBIDDEN", h, a)
			}
			if a := wsHandshake(c, h); a.status != http.StatusForbidden || code(a) != "FORBIDDEN" {
				t.Errorf("WebSocket handshake with %v: %+v, want 403 FORBIDDEN", h, a)
			}
		}
		if n := srv.PendingConns(); n != 0 {
			t.Errorf("%d sessions after refused handshakes", n)
		}
		a := c.handshake(map[string]string{"Origin": "https://app.example"})
		if sid(a) == "" || srv.PendingConns() != 1 {
			t.Errorf("allowed origin: %+v, %d sessions", a, srv.PendingConns())
		}
	})

	t.Run("same origin", func(t *testing.T) {
		srv, base := pendingServer(t, computemw.Config{}, computesocketio.Config{})
		c := newEIO(t, base, 1)
		if a := c.handshake(map[string]string{"Origin": "https://evil.example"}); a.status != http.StatusForbidden || code(a) != "FORBIDDEN" {
			t.Errorf("cross-origin polling handshake: %+v, want 403 FORBIDDEN", a)
		}
		if n := srv.PendingConns(); n != 0 {
			t.Errorf("%d sessions after a refused handshake", n)
		}
		if a := c.handshake(map[string]string{"Origin": base}); sid(a) == "" {
			t.Errorf("same-origin handshake: %+v", a)
		}
	})
}

// flatten is h as key, value, key, value ...
func flatten(h map[string]string) []string {
	var kv []string
	for k, v := range h {
		kv = append(kv, k, v)
	}
	return kv
}

// TestConnectTimeout: a session that does not complete the Socket.IO
// connect within ConnectTimeout is closed — its pending poll answered,
// its ID unknown from then on — and its place is given back; one whose
// connect is refused keeps its place until then.
func TestConnectTimeout(t *testing.T) {
	srv, base := pendingServer(t, computemw.Config{}, computesocketio.Config{
		ConnectTimeout: 300 * time.Millisecond, PingInterval: 10 * time.Minute})
	c := newEIO(t, base, 2)
	for _, connect := range []string{"", `40{"token":"not-a-jwt"}`} {
		id := sid(c.handshake(nil))
		if id == "" {
			t.Fatal("no session")
		}
		if connect != "" {
			c.send(id, connect)
			if a := c.poll(id); !strings.HasPrefix(a.body, "44") || !strings.Contains(a.body, "UNAUTHORIZED") {
				t.Fatalf("refused connect answered %+v", a)
			}
		}
		// The poll waits until the server closes the session.
		if a := c.poll(id); a.status != http.StatusOK || a.body != "1" {
			t.Errorf("pending poll answered %+v, want the close packet", a)
		}
		waitFor(t, "the session's place given back", func() bool { return srv.PendingConns() == 0 })
		if a := c.poll(id); a.status != http.StatusBadRequest {
			t.Errorf("poll of the closed session: %+v, want 400", a)
		}
	}
}

// TestAdmittedLeavesPending: a session admitted at the Socket.IO connect
// gives its place back (the caller's connections bound it from then on),
// so a client's next handshake is accepted again.
func TestAdmittedLeavesPending(t *testing.T) {
	srv, base := pendingServer(t, computemw.Config{}, computesocketio.Config{
		MaxPendingConnsPerClient: 1, PingInterval: 10 * time.Minute})
	c := newEIO(t, base, 2)
	id := sid(c.handshake(nil))
	if id == "" {
		t.Fatal("no session")
	}
	if a := c.handshake(nil); a.status != http.StatusTooManyRequests || code(a) != "RATE_LIMITED" {
		t.Fatalf("second handshake: %+v, want 429 RATE_LIMITED", a)
	}
	c.send(id, `40{"token":"`+token(t, "alice", "pro", secret)+`"}`)
	if a := c.poll(id); !strings.HasPrefix(a.body, "40{") {
		t.Fatalf("connect answered %+v", a)
	}
	if n := srv.PendingConns(); n != 0 {
		t.Errorf("PendingConns = %d after the connect", n)
	}
	if a := c.handshake(nil); sid(a) == "" {
		t.Errorf("handshake after the first was admitted: %+v", a)
	}
	leave(t, c, id)
}

// leave leaves the namespace and waits for the server to close the
// session: polls get the close packet (maybe after a noop), then 400.
func leave(t *testing.T, c *eio, id string) {
	t.Helper()
	// The session may close while this request is still being read: its
	// answer is then 429 (Engine.IO's), and it is the only one.
	if _, err := c.do(t.Context(), http.MethodPost, "EIO=4&transport=polling&sid="+id, "41", nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		a := c.poll(id)
		if a.status == http.StatusBadRequest {
			return
		}
		if i == 3 || a.status != http.StatusOK || strings.Trim(a.body, "16\x1e") != "" {
			t.Fatalf("poll after leaving the namespace: %+v, want noop or close packets, then 400", a)
		}
	}
}

// TestNamespaceDisconnectClosesSession: a client that leaves the namespace
// but keeps its Engine.IO session open has that session closed: after
// its admission it counts in the caller's connections only while its
// socket is connected.
func TestNamespaceDisconnectClosesSession(t *testing.T) {
	srv, base := pendingServer(t, computemw.Config{}, computesocketio.Config{PingInterval: 10 * time.Minute})
	c := newEIO(t, base, 2)
	id := sid(c.handshake(nil))
	if id == "" {
		t.Fatal("no session")
	}
	c.send(id, `40{"token":"`+token(t, "alice", "pro", secret)+`"}`)
	if a := c.poll(id); !strings.HasPrefix(a.body, "40{") {
		t.Fatalf("connect answered %+v", a)
	}
	leave(t, c, id)
	if n := srv.PendingConns(); n != 0 {
		t.Errorf("PendingConns = %d", n)
	}
}

// TestPendingPerClient: a client address is the kit's ClientIP —
// X-Forwarded-For only from a trusted proxy, so a client cannot take
// another's share by naming one — and an IPv6 client is its /64.
func TestPendingPerClient(t *testing.T) {
	try := func(t *testing.T, c *eio, xff string) answer {
		t.Helper()
		a, err := c.do(t.Context(), http.MethodGet, "EIO=4&transport=polling", "", map[string]string{"X-Forwarded-For": xff})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	cfg := computesocketio.Config{MaxPendingConnsPerClient: 1}

	t.Run("untrusted peer", func(t *testing.T) {
		_, base := pendingServer(t, computemw.Config{}, cfg)
		c := newEIO(t, base, 1)
		if a := try(t, c, "10.0.0.1"); sid(a) == "" {
			t.Fatalf("first handshake: %+v", a)
		}
		if a := try(t, c, "10.0.0.2"); a.status != http.StatusTooManyRequests || code(a) != "RATE_LIMITED" {
			t.Errorf("handshake naming another address: %+v, want 429 RATE_LIMITED", a)
		}
	})

	t.Run("trusted proxy", func(t *testing.T) {
		trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		_, base := pendingServer(t, computemw.Config{TrustedProxies: trusted}, cfg)
		c := newEIO(t, base, 1)
		for _, step := range []struct {
			xff    string
			status int
		}{
			{"10.0.0.1", http.StatusOK},
			{"10.0.0.1", http.StatusTooManyRequests},
			{"10.0.0.2", http.StatusOK},
			{"2001:db8::1", http.StatusOK},
			{"2001:db8::2", http.StatusTooManyRequests}, // the same /64
			{"2001:db8:0:1::1", http.StatusOK},
		} {
			if a := try(t, c, step.xff); a.status != step.status {
				t.Errorf("handshake from %s: %+v, want %d", step.xff, a, step.status)
			}
		}
	})
}
