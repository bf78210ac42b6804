package computemw_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
)

// queueRecorder is a policy that admits everything and records the waits
// the kit reports.
type queueRecorder struct {
	mu    sync.Mutex
	waits []error
}

func (q *queueRecorder) Admit(ctx context.Context, _ computemw.Op, _ *computemw.Request) (context.Context, error) {
	return ctx, nil
}

func (q *queueRecorder) Authorize(context.Context, *computemw.Action) error { return nil }

func (q *queueRecorder) SandboxQueued(_ context.Context, _ time.Duration, err error) {
	q.mu.Lock()
	q.waits = append(q.waits, err)
	q.mu.Unlock()
}

func (q *queueRecorder) recorded() []error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]error(nil), q.waits...)
}

// At capacity a creation waits for a slot instead of failing, and gets the
// first one freed; the waits are reported to the hooks.
func TestQueueWaitsForASlot(t *testing.T) {
	rec := &queueRecorder{}
	kit, fake := newKit(t, computemw.Config{MaxSandboxes: 1, Policies: []computemw.Policy{rec}})
	ctx := context.Background()
	_, rel, err := kit.Acquire(ctx, "", computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		_, rel2, err := kit.Acquire(ctx, "", computemw.CreateOptions{})
		if err == nil {
			rel2()
		}
		got <- err
	}()
	queueReaches(t, kit, 1)
	if fake.Created() != 1 {
		t.Fatalf("a queued creation created a sandbox: %d created", fake.Created())
	}
	rel()
	if err := <-got; err != nil {
		t.Fatalf("queued creation: %v", err)
	}
	if kit.Stats().Queued != 0 {
		t.Errorf("queue depth %d after the wait", kit.Stats().Queued)
	}
	if w := rec.recorded(); len(w) != 1 || w[0] != nil {
		t.Errorf("reported waits %v, want one that got a slot", w)
	}
}

// Slots go to waiters in the order they came.
func TestQueueIsFirstComeFirstServed(t *testing.T) {
	kit, _ := newKit(t, computemw.Config{MaxSandboxes: 1})
	ctx := context.Background()
	_, rel, err := kit.Acquire(ctx, "", computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	order := make(chan int, 3)
	releases := make(chan func(), 3)
	for i := range 3 {
		go func() {
			_, r, err := kit.Acquire(ctx, "", computemw.CreateOptions{})
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
				return
			}
			order <- i
			releases <- r
		}()
		queueReaches(t, kit, i+1)
	}
	rel()
	for want := range 3 {
		if got := <-order; got != want {
			t.Fatalf("slot %d went to waiter %d", want, got)
		}
		(<-releases)()
	}
}

// A full queue, a wait that ends, and a client that leaves each fail with
// 503 and Retry-After (or the client's own error), create nothing and
// leave the queue empty.
func TestQueueBounds(t *testing.T) {
	cases := []struct {
		name   string
		cfg    computemw.Config
		cancel bool
	}{
		{name: "queue full", cfg: computemw.Config{MaxSandboxes: 1, QueueDepth: 1}},
		{name: "wait ends", cfg: computemw.Config{MaxSandboxes: 1, QueueTimeout: 50 * time.Millisecond}},
		{name: "queueing off", cfg: computemw.Config{MaxSandboxes: 1, QueueTimeout: -1}},
		{name: "client leaves", cfg: computemw.Config{MaxSandboxes: 1}, cancel: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &queueRecorder{}
			c.cfg.Policies = []computemw.Policy{rec}
			kit, fake := newKit(t, c.cfg)
			_, rel, err := kit.Acquire(context.Background(), "", computemw.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer rel()
			if c.cfg.QueueDepth == 1 {
				// One waiter fills the queue.
				go func() {
					_, r, err := kit.Acquire(context.Background(), "", computemw.CreateOptions{})
					if err == nil {
						r()
					}
				}()
				queueReaches(t, kit, 1)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if c.cancel {
				go func() {
					queueReaches(t, kit, 1)
					cancel()
				}()
			}
			created := fake.Created()
			_, _, err = kit.Acquire(ctx, "", computemw.CreateOptions{})
			if c.cancel {
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("client left: %v", err)
				}
			} else {
				var e *computemw.Error
				if !errors.As(err, &e) || e.Code != computemw.CodeUnavailable || e.RetryAfter <= 0 {
					t.Fatalf("got %v, want 503 with Retry-After", err)
				}
			}
			if fake.Created() != created {
				t.Error("a refused creation created a sandbox")
			}
			if c.cfg.QueueDepth != 1 {
				if d := kit.Stats().Queued; d != 0 {
					t.Errorf("queue depth %d after the refusal", d)
				}
			}
			if w := rec.recorded(); len(w) == 0 || w[len(w)-1] == nil {
				t.Errorf("refusal not reported to the hooks: %v", w)
			}
		})
	}
}

// Close refuses the creations that wait.
func TestQueueRefusedOnClose(t *testing.T) {
	kit, _ := newKit(t, computemw.Config{MaxSandboxes: 1})
	_, rel, err := kit.Acquire(context.Background(), "", computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		_, _, err := kit.Acquire(context.Background(), "", computemw.CreateOptions{})
		got <- err
	}()
	queueReaches(t, kit, 1)
	closed := make(chan error, 1)
	go func() { closed <- kit.Close(context.Background()) }()
	if err := <-got; computemw.StatusOf(err) != 503 {
		t.Fatalf("queued creation during Close: %v", err)
	}
	rel()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// The HTTP route queues too: requests at capacity wait and are served.
func TestQueueOnTheRoute(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{MaxSandboxes: 1})
	held := make(chan int, 1)
	go func() {
		held <- post(context.Background(), kit, "/exec", `{"command":"sleep","timeout":300}`).Status
	}()
	<-fake.Started()
	var wg sync.WaitGroup
	statuses := make(chan int, 3)
	for range 3 {
		wg.Go(func() {
			statuses <- post(context.Background(), kit, "/exec", `{"command":"echo hi"}`).Status
		})
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 200 {
			t.Errorf("status %d, want every queued request served", s)
		}
	}
	if s := <-held; s != 408 {
		t.Errorf("the request holding the slot: %d", s)
	}
	if fake.Created() != 4 {
		t.Errorf("created %d sandboxes, want 4", fake.Created())
	}
}

// queueReaches waits until n creations are queued (the queue moves on
// other goroutines), for at most ten seconds.
func queueReaches(t *testing.T, kit *computemw.Kit, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for kit.Stats().Queued != n {
		if time.Now().After(deadline) {
			t.Fatalf("queue depth %d, want %d", kit.Stats().Queued, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A session request that asks to wait gets the slot a destroyed session
// frees; one that does not is refused at once; a wait past the kit's
// QueueTimeout is a bad request.
func TestSessionSlotWait(t *testing.T) {
	kit, _ := newKit(t, computemw.Config{MaxSessionsPerPrincipal: 1})
	ctx := context.Background()
	first := post(ctx, kit, "/sandboxes", `{}`)
	if first.Status != 201 {
		t.Fatalf("first session: %d %s", first.Status, first.Body)
	}
	if r := post(ctx, kit, "/sandboxes", `{}`); r.Status != 429 {
		t.Fatalf("second session without wait: %d %s", r.Status, r.Body)
	}
	if r := post(ctx, kit, "/sandboxes", `{"wait":3600000}`); r.Status != 400 {
		t.Fatalf("a wait past QueueTimeout: %d %s", r.Status, r.Body)
	}
	if r := post(ctx, kit, "/sandboxes", `{"wait":-1}`); r.Status != 400 {
		t.Fatalf("a negative wait: %d %s", r.Status, r.Body)
	}
	if r := post(ctx, kit, "/sandboxes", `{"wait":20}`); r.Status != 429 {
		t.Fatalf("a wait that ends: %d %s", r.Status, r.Body)
	}
	var id struct {
		SandboxID string `json:"sandboxId"`
	}
	if err := json.Unmarshal(first.Body, &id); err != nil || id.SandboxID == "" {
		t.Fatalf("session id: %s", first.Body)
	}
	got := make(chan *httpapi.Response, 1)
	go func() { got <- post(ctx, kit, "/sandboxes", `{"wait":10000}`) }()
	// The waiter is parked before the slot frees.
	deadline := time.Now().Add(10 * time.Second)
	for kit.Stats().SessionWaiters != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the session request never waited")
		}
		time.Sleep(time.Millisecond)
	}
	del := &computemw.Request{Method: "DELETE", Params: map[string]string{"id": id.SandboxID}, Header: http.Header{}, Body: strings.NewReader(""), RemoteAddr: "127.0.0.1:40000"}
	if r := httpapi.New(kit).ServeRoute(ctx, computemwtest.RouteOf(kit, "/sandboxes/{id}"), del); r.Status/100 != 2 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r := <-got; r.Status != 201 {
		t.Fatalf("waiting session: %d %s", r.Status, r.Body)
	}
}
