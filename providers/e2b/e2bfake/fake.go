package e2bfake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/providers/e2b"
	"github.com/computemw/kit/providers/e2b/internal/envd/filesystem/filesystemconnect"
	"github.com/computemw/kit/providers/e2b/internal/envd/process/processconnect"
)

// Domain is the domain the fake serves: the control plane is
// api.example.com and envd is <EnvdPort>-<id>.example.com (names the
// httptest certificate covers).
const Domain = "example.com"

// EnvdPort is the port in envd's host names.
const EnvdPort = 49983

// Fake is a running contract fake. Its methods are safe for concurrent use.
type Fake struct {
	t      testing.TB
	srv    *httptest.Server
	apiKey string
	root   string
	rpc    *http.ServeMux // envd's Connect services

	mu        sync.Mutex
	sandboxes map[string]*sandbox
	faults    []*Fault
	holds     []*Hold
	counts    map[string]int
	exchanges []Exchange
	created   int
	changed   chan struct{} // closed and replaced on every change of the books

	idleCut     time.Duration // 0: streams are never cut for silence
	pingSecond  time.Duration // how long one second of Keepalive-Ping-Interval lasts
	keepalives  int           // keepalive events sent
	envdVersion string
	listPage    int // the most sandboxes one list page holds; 0: the request's limit
}

// New starts a fake that fails t on contract violations; it is stopped,
// and every sandbox it still has killed, when t ends.
func New(t testing.TB) *Fake {
	t.Helper()
	if _, _, err := validators(); err != nil {
		t.Fatalf("e2bfake: %v", err)
	}
	f := &Fake{
		t:         t,
		apiKey:    "e2b_" + randHex(20),
		root:      t.TempDir(),
		sandboxes: map[string]*sandbox{},
		counts:    map[string]int{},
		changed:   make(chan struct{}),

		pingSecond:  time.Second,
		envdVersion: DefaultEnvdVersion,
	}
	f.rpc = http.NewServeMux()
	f.rpc.Handle(processconnect.NewProcessHandler(&processService{f: f}))
	f.rpc.Handle(filesystemconnect.NewFilesystemHandler(&filesystemService{f: f}))
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.serveChecked(w, r, f.route)
	}))
	f.srv.StartTLS()
	t.Cleanup(f.close)
	return f
}

// APIKey is the only key the control plane accepts.
func (f *Fake) APIKey() string { return f.apiKey }

// APIURL is the control plane's base URL.
func (f *Fake) APIURL() string { return "https://api." + Domain }

// Client returns an HTTP client that trusts the fake's certificate and
// reaches the fake for every host name.
func (f *Fake) Client() *http.Client {
	tr := f.srv.Client().Transport.(*http.Transport).Clone()
	addr := f.srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	tr.ForceAttemptHTTP2 = false
	return &http.Client{Transport: tr}
}

// Options returns provider options pointed at the fake, with short retry
// delays.
func (f *Fake) Options() e2b.Options {
	return e2b.Options{
		APIKey:     f.apiKey,
		Domain:     Domain,
		HTTPClient: f.Client(),
		RetryBase:  5 * time.Millisecond,
		RetryMax:   2 * time.Second,
	}
}

// SetIdleCut makes the fake cut a process's stream (abort its connection)
// once it has sent nothing for d, as the idle timeout of E2B's edge does;
// 0, the default, never cuts.
func (f *Fake) SetIdleCut(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.idleCut = d
}

// SetListPageSize makes the control plane's list answer at most n
// sandboxes a page, whatever limit the request asks (the vendor's limit
// is a maximum), with X-Next-Token naming where the next page starts; 0,
// the default, pages by the request's limit alone.
func (f *Fake) SetListPageSize(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listPage = n
}

// SetKeepaliveSecond sets how long one second of a start request's
// Keepalive-Ping-Interval lasts on the fake (default a second), so that a
// test can run the vendor's whole-second intervals quickly.
func (f *Fake) SetKeepaliveSecond(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pingSecond = d
}

// Keepalives counts the keepalive events the fake has sent on process
// streams; each one wakes WaitFor.
func (f *Fake) Keepalives() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keepalives
}

func (f *Fake) streamTiming() (idleCut, pingSecond time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.idleCut, f.pingSecond
}

func (f *Fake) version() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.envdVersion
}

func (f *Fake) keepaliveSent() {
	f.mu.Lock()
	f.keepalives++
	f.notify()
	f.mu.Unlock()
}

// Live returns the IDs of the sandboxes that are alive, sorted.
func (f *Fake) Live() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, 0, len(f.sandboxes))
	for id := range f.sandboxes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// LiveProcesses counts the processes still running in live sandboxes.
func (f *Fake) LiveProcesses() int {
	f.mu.Lock()
	sbs := make([]*sandbox, 0, len(f.sandboxes))
	for _, sb := range f.sandboxes {
		sbs = append(sbs, sb)
	}
	f.mu.Unlock()
	n := 0
	for _, sb := range sbs {
		n += sb.running()
	}
	return n
}

// Created counts the sandboxes the fake has made.
func (f *Fake) Created() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.created
}

// Count returns how many requests reached an operation (see Fault.Op).
func (f *Fake) Count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[op]
}

// WaitNoneLive waits until no sandbox and no process is alive, or ctx
// ends; then it returns an error naming what is left.
func (f *Fake) WaitNoneLive(ctx context.Context) error {
	for {
		f.mu.Lock()
		ch := f.changed
		n := len(f.sandboxes)
		f.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("e2bfake: sandboxes still alive: %v", f.Live())
		}
	}
}

// WaitFor waits until cond holds, checking it after every change of the
// books (a sandbox made or killed, a process started or ended), or until
// ctx ends. cond may call the fake's methods.
func (f *Fake) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		f.mu.Lock()
		ch := f.changed
		f.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("e2bfake: condition not met: %w", ctx.Err())
		}
	}
}

// WaitNoProcesses waits until no process runs in any live sandbox, or
// ctx ends.
func (f *Fake) WaitNoProcesses(ctx context.Context) error {
	for {
		f.mu.Lock()
		ch := f.changed
		f.mu.Unlock()
		if n := f.LiveProcesses(); n == 0 {
			return nil
		} else if ctx.Err() != nil {
			return fmt.Errorf("e2bfake: %d processes still running", n)
		}
		select {
		case <-ch:
		case <-ctx.Done():
		}
	}
}

// AssertNoneLive fails t unless, within five seconds, no sandbox is alive.
func (f *Fake) AssertNoneLive(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.WaitNoneLive(ctx); err != nil {
		t.Error(err)
	}
}

// notify wakes the waiters of WaitNoneLive; f.mu must be held.
func (f *Fake) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// processChanged wakes the waiters when a process starts or ends.
func (f *Fake) processChanged() {
	f.mu.Lock()
	f.notify()
	f.mu.Unlock()
}

func (f *Fake) close() {
	f.mu.Lock()
	sbs := f.sandboxes
	f.sandboxes = map[string]*sandbox{}
	for _, h := range f.holds {
		h.release()
	}
	f.mu.Unlock()
	for _, sb := range sbs {
		sb.kill()
	}
	f.srv.Close()
}

// errorf reports a contract violation.
func (f *Fake) errorf(format string, args ...any) {
	f.t.Helper()
	f.t.Errorf("e2bfake: "+format, args...)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// hostKind splits a Host header into the control plane or a sandbox's envd.
func hostKind(host string) (api bool, sandboxID string) {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	if h == "api."+Domain {
		return true, ""
	}
	prefix := fmt.Sprintf("%d-", EnvdPort)
	if rest, ok := strings.CutSuffix(h, "."+Domain); ok {
		if id, ok := strings.CutPrefix(rest, prefix); ok && id != "" && !strings.Contains(id, ".") {
			return false, id
		}
	}
	return false, ""
}

// route sends a request to the control plane or to a sandbox's envd.
func (f *Fake) route(w http.ResponseWriter, r *http.Request) {
	api, id := hostKind(r.Host)
	switch {
	case api:
		f.serveAPI(w, r)
	case id != "":
		f.serveEnvd(w, r, id)
	default:
		f.errorf("request to unknown host %q (%s %s)", r.Host, r.Method, r.URL.Path)
		http.Error(w, "unknown host", http.StatusMisdirectedRequest)
	}
}
