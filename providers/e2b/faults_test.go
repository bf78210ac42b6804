package e2b_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/e2b"
	"github.com/computemw/kit/providers/e2b/e2bfake"
	"github.com/computemw/kit/providers/internal/providertest"
)

// A 429 on create is given back at once, with its Retry-After, and never
// retried: a second create could make a second sandbox.
func TestCreateRateLimitedNotRetried(t *testing.T) {
	p, f := newProvider(t, nil)
	f.Inject(e2bfake.Fault{Op: e2bfake.OpCreate, Status: http.StatusTooManyRequests, RetryAfter: 7 * time.Second})
	_, err := p.Create(testCtx(t), computemw.CreateOptions{})
	e := providertest.WantCode(t, "Create answered 429", err, computemw.CodeRateLimited)
	if e.RetryAfter != 7*time.Second {
		t.Errorf("RetryAfter = %s, want the vendor's 7s", e.RetryAfter)
	}
	if computemw.StatusOf(e) != http.StatusTooManyRequests {
		t.Errorf("status %d", computemw.StatusOf(e))
	}
	if n := f.Count(e2bfake.OpCreate); n != 1 {
		t.Errorf("%d create requests, want 1 (no retry)", n)
	}
}

// Every class of vendor failure maps to the kit's class.
func TestCreateErrorClasses(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   computemw.Code
	}{
		{http.StatusBadRequest, computemw.CodeBadRequest},
		{http.StatusUnauthorized, computemw.CodeUnavailable},
		{http.StatusNotFound, computemw.CodeNotFound},
		{http.StatusInternalServerError, computemw.CodeUnavailable},
		{http.StatusServiceUnavailable, computemw.CodeUnavailable},
		{http.StatusGatewayTimeout, computemw.CodeTimeout},
		{http.StatusInsufficientStorage, computemw.CodeResource},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			p, f := newProvider(t, nil)
			f.Inject(e2bfake.Fault{Op: e2bfake.OpCreate, Status: tc.status})
			_, err := p.Create(testCtx(t), computemw.CreateOptions{})
			e := providertest.WantCode(t, "Create", err, tc.code)
			if want := map[computemw.Code]int{computemw.CodeBadRequest: 400, computemw.CodeUnavailable: 503,
				computemw.CodeNotFound: 404, computemw.CodeTimeout: 408, computemw.CodeResource: 507}[tc.code]; computemw.StatusOf(e) != want {
				t.Errorf("status %d, want %d", computemw.StatusOf(e), want)
			}
			if n := f.Count(e2bfake.OpCreate); n != 1 {
				t.Errorf("%d create requests, want 1", n)
			}
		})
	}
}

// Idempotent calls are retried after 429 and 5xx, waiting the Retry-After
// the vendor asked for.
func TestIdempotentCallsRetried(t *testing.T) {
	p, f := newProvider(t, func(o *e2b.Options) { o.RetryMax = 5 * time.Second })
	clock := &providertest.RetryClock{}
	e2b.SetRetryWait(p, clock.Wait)
	sb := create(t, p, computemw.CreateOptions{})
	ctx := testCtx(t)

	f.Inject(e2bfake.Fault{Op: e2bfake.OpGet, Status: http.StatusTooManyRequests, RetryAfter: 3 * time.Second})
	clock.Reset()
	if _, err := p.Get(ctx, sb.ID()); err != nil {
		t.Fatalf("Get after one 429: %v", err)
	}
	if waits := clock.Taken(); !slices.Equal(waits, []time.Duration{3 * time.Second}) {
		t.Errorf("waited %v before the retry, want the Retry-After of 3s", waits)
	}
	if n := f.Count(e2bfake.OpGet); n != 2 {
		t.Errorf("%d get requests, want 2", n)
	}

	f.Inject(e2bfake.Fault{Op: e2bfake.OpList, Status: http.StatusBadGateway, Times: 2})
	if _, err := p.List(ctx, nil); err != nil {
		t.Errorf("List after two 502s: %v", err)
	}
	f.Inject(e2bfake.Fault{Op: e2bfake.OpStat, Status: http.StatusServiceUnavailable})
	if _, err := sb.Stat(ctx, "."); err != nil {
		t.Errorf("Stat after one 503: %v", err)
	}
	f.Inject(e2bfake.Fault{Op: e2bfake.OpDownload, Status: http.StatusServiceUnavailable})
	if err := sb.WriteFile(ctx, "f", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if got, err := sb.ReadFile(ctx, "f"); err != nil || string(got) != "x" {
		t.Errorf("ReadFile after one 503: %q, %v", got, err)
	}
	f.Inject(e2bfake.Fault{Op: e2bfake.OpKill, Status: http.StatusInternalServerError})
	other := create(t, p, computemw.CreateOptions{})
	if err := other.Destroy(ctx); err != nil {
		t.Errorf("Destroy after one 500 on kill: %v", err)
	}

	// Retries run out: the last answer's class.
	f.Inject(e2bfake.Fault{Op: e2bfake.OpList, Status: http.StatusServiceUnavailable, Times: 10})
	before := f.Count(e2bfake.OpList)
	_, err := p.List(ctx, nil)
	providertest.WantCode(t, "List while the vendor is down", err, computemw.CodeUnavailable)
	if n := f.Count(e2bfake.OpList) - before; n != 4 {
		t.Errorf("%d list requests, want 4 (one and three retries)", n)
	}
	// A Retry-After longer than the provider waits is given to the caller.
	f.Inject(e2bfake.Fault{Op: e2bfake.OpGet, Status: http.StatusTooManyRequests, RetryAfter: time.Hour})
	_, err = p.Get(ctx, sb.ID())
	if e := providertest.WantCode(t, "Get with a long Retry-After", err, computemw.CodeRateLimited); e.RetryAfter != time.Hour {
		t.Errorf("RetryAfter = %s, want 1h", e.RetryAfter)
	}
}

// Process start is never retried; its failure has the kit's class.
func TestStartNotRetried(t *testing.T) {
	p, f := newProvider(t, nil)
	sb := create(t, p, computemw.CreateOptions{})
	f.Inject(e2bfake.Fault{Op: e2bfake.OpStart, Status: http.StatusServiceUnavailable})
	_, err := sb.Exec(testCtx(t), "echo hi", computemw.ExecOptions{})
	providertest.WantCode(t, "Exec when start fails", err, computemw.CodeUnavailable)
	if n := f.Count(e2bfake.OpStart); n != 1 {
		t.Errorf("%d start requests, want 1", n)
	}
}

// A connection reset in the middle of a process's stream is a 503 with
// the output so far, and the process it leaves is killed.
func TestResetMidStream(t *testing.T) {
	p, f := newProvider(t, nil)
	sb := create(t, p, computemw.CreateOptions{})
	ctx := testCtx(t)
	// Events: start, "before", then the reset.
	f.Inject(e2bfake.Fault{Op: e2bfake.OpStart, ResetAfterEvents: 2})
	res, err := sb.Exec(ctx, "echo before; sleep 1000", computemw.ExecOptions{})
	providertest.WantCode(t, "Exec whose stream is reset", err, computemw.CodeUnavailable)
	if res == nil || res.Stdout != "before\n" {
		t.Errorf("partial result %+v, want stdout before\\n", res)
	}
	if n := f.Count(e2bfake.OpSignal); n != 1 {
		t.Errorf("%d SendSignal requests, want 1", n)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := f.WaitNoProcesses(wctx); err != nil {
		t.Error(err)
	}
}

// A stream slower than the timeout ends in a TIMEOUT, and the process is
// killed with SendSignal.
func TestSlowStreamTimesOut(t *testing.T) {
	p, f := newProvider(t, nil)
	sb := create(t, p, computemw.CreateOptions{})
	ctx := testCtx(t)
	// No event comes before the caller has gone: only the timeout can
	// end the call, and only killing the process can end the command.
	f.Inject(e2bfake.Fault{Op: e2bfake.OpStart, EventDelay: time.Hour})
	done := make(chan error, 1)
	go func() {
		_, err := sb.Exec(ctx, "sleep 1000", computemw.ExecOptions{Timeout: 300 * time.Millisecond})
		done <- err
	}()
	select {
	case err := <-done:
		providertest.WantCode(t, "Exec on a slow stream", err, computemw.CodeTimeout)
	case <-time.After(time.Minute):
		t.Fatal("Exec with a 300ms timeout still running after a minute")
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := f.WaitNoProcesses(wctx); err != nil {
		t.Errorf("the timed-out process was not killed (by tag, its pid never came): %v", err)
	}
}

// A caller that gives up while create is under way gets its error at
// once; the sandbox made after that is killed, not leaked.
func TestCancelMidCreate(t *testing.T) {
	for _, how := range []string{"cancel", "deadline"} {
		t.Run(how, func(t *testing.T) {
			p, f := newProvider(t, nil)
			hold := f.HoldCreates()
			// The caller's context ends once the create has reached the
			// vendor: cancelled, or at a deadline the test makes pass.
			var ctx context.Context
			var cancel func()
			if how == "deadline" {
				dl := newDeadlineCtx(t.Context())
				ctx, cancel = dl, dl.expire
			} else {
				ctx, cancel = context.WithCancel(t.Context())
			}
			defer cancel()
			done := make(chan error, 1)
			go func() {
				sb, err := p.Create(ctx, computemw.CreateOptions{})
				if sb != nil {
					err = errors.New("Create returned a sandbox")
				}
				done <- err
			}()
			<-hold.Arrived()
			cancel()
			err := <-done
			want := map[string]computemw.Code{"cancel": computemw.CodeClientClosed, "deadline": computemw.CodeTimeout}[how]
			providertest.WantCode(t, "Create given up", err, want)
			hold.Release()
			wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer wcancel()
			// The fake made the sandbox after the caller left; it must
			// be killed without anyone asking.
			if err := f.WaitFor(wctx, func() bool { return f.Created() == 1 && len(f.Live()) == 0 }); err != nil {
				t.Errorf("created %d, live %v: %v", f.Created(), f.Live(), err)
			}
			if f.Created() != 1 || f.Count(e2bfake.OpKill) != 1 {
				t.Errorf("created %d, killed %d; want the late sandbox made and killed once", f.Created(), f.Count(e2bfake.OpKill))
			}
		})
	}
}

// A create whose answer is lost (the connection reset after the vendor
// made the sandbox, or a 5xx) is an error for the caller, and the sandbox
// is found by its create token and killed.
func TestLostCreateAnswerSwept(t *testing.T) {
	p, f := newProvider(t, nil)
	f.Inject(e2bfake.Fault{Op: e2bfake.OpCreate, AbortAfterCreate: true})
	_, err := p.Create(testCtx(t), computemw.CreateOptions{Metadata: map[string]string{"app": "x"}})
	providertest.WantCode(t, "Create whose answer is lost", err, computemw.CodeUnavailable)
	wctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := f.WaitFor(wctx, func() bool { return f.Created() == 1 && len(f.Live()) == 0 }); err != nil {
		t.Errorf("created %d, live %v: %v", f.Created(), f.Live(), err)
	}
	if f.Count(e2bfake.OpCreate) != 1 || f.Count(e2bfake.OpKill) != 1 {
		t.Errorf("%d creates, %d kills; want one each", f.Count(e2bfake.OpCreate), f.Count(e2bfake.OpKill))
	}

	// A 5xx may have made one too: it is looked for. A 4xx made nothing.
	for _, tc := range []struct {
		status int
		lists  int
	}{{http.StatusBadGateway, 1}, {http.StatusBadRequest, 0}} {
		p, f := newProvider(t, nil)
		f.Inject(e2bfake.Fault{Op: e2bfake.OpCreate, Status: tc.status})
		if _, err := p.Create(testCtx(t), computemw.CreateOptions{}); err == nil {
			t.Fatalf("Create answered %d succeeded", tc.status)
		}
		if err := p.Close(testCtx(t)); err != nil { // waits for the sweep
			t.Fatal(err)
		}
		if n := f.Count(e2bfake.OpList); n != tc.lists {
			t.Errorf("%d list requests after a %d on create, want %d", n, tc.status, tc.lists)
		}
	}
}

// The fake fails a test on a wrong header, path, unit or field.
func TestFakeCatchesContractViolations(t *testing.T) {
	for _, tc := range []struct {
		name, method, path, body string
		header                   map[string]string
		want                     string
	}{
		{"wrong key", "GET", "/v2/sandboxes", "", map[string]string{"X-API-Key": "wrong"}, "X-API-Key"},
		{"bearer", "GET", "/v2/sandboxes", "", map[string]string{"Authorization": "Bearer x"}, "Authorization"},
		{"unknown path", "GET", "/v3/sandboxes", "", nil, "not in the spec"},
		{"unknown field", "POST", "/sandboxes", `{"templateID":"base","timeoutMs":1000}`, nil, "timeoutMs"},
		{"milliseconds", "POST", "/sandboxes", `{"templateID":"base","timeout":300000}`, nil, "milliseconds"},
		{"fraction", "POST", "/sandboxes", `{"templateID":"base","timeout":1.5}`, nil, "must be an integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			f := e2bfake.New(rec)
			req, _ := http.NewRequest(tc.method, f.APIURL()+tc.path, strings.NewReader(tc.body))
			req.Header.Set("X-API-Key", f.APIKey())
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			c := f.Client()
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			c.CloseIdleConnections()
			if resp.StatusCode < 400 {
				t.Errorf("answered %d", resp.StatusCode)
			}
			if !strings.Contains(rec.reported(), tc.want) {
				t.Errorf("the fake reported %q, want a failure naming %q", rec.reported(), tc.want)
			}
		})
	}
	// envd: the access token is required.
	rec := &recorder{TB: t}
	f := e2bfake.New(rec)
	opts := f.Options()
	p, err := e2b.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := p.Create(testCtx(t), computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	req, _ := http.NewRequest("GET", "https://49983-"+sb.ID()+"."+e2bfake.Domain+"/files?path=x", nil)
	resp, err := opts.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	opts.HTTPClient.CloseIdleConnections()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(rec.reported(), "X-Access-Token") {
		t.Errorf("envd without a token: %d, reported %q", resp.StatusCode, rec.reported())
	}
}

// recorder keeps the errors a fake reports instead of failing the test.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) reported() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errors, "\n")
}

func (r *recorder) Helper() {}

// A key the vendor refuses makes the provider unavailable (503), for the
// health check as for create; the fake reports the wrong header.
func TestRefusedKeyIsUnavailable(t *testing.T) {
	rec := &recorder{TB: t}
	f := e2bfake.New(rec)
	opts := f.Options()
	opts.APIKey = "e2b_not_the_key"
	p, err := e2b.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	defer opts.HTTPClient.CloseIdleConnections()
	providertest.WantCode(t, "CheckHealth with a refused key", p.CheckHealth(testCtx(t)), computemw.CodeUnavailable)
	_, err = p.Create(testCtx(t), computemw.CreateOptions{})
	providertest.WantCode(t, "Create with a refused key", err, computemw.CodeUnavailable)
	if !strings.Contains(rec.reported(), "X-API-Key") {
		t.Errorf("the fake reported %q", rec.reported())
	}
}
