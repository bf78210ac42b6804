package computemw_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
)

// tenantPolicy is a policy an application writes itself, with the kit's
// exported API only: it freezes tenants (no new sandboxes for them), and
// it reads the caller's headers on every admission — WebSocket messages
// included. It has hooks too, counting executions.
type tenantPolicy struct {
	once     sync.Once
	hooks    *computemw.Hooks
	mu       sync.Mutex
	seen     []string // "op method tenant" of each admission
	finished int
}

type tenantKey struct{}

func (p *tenantPolicy) Admit(ctx context.Context, op computemw.Op, r *computemw.Request) (context.Context, error) {
	tenant := r.Header.Get("X-Tenant") // never nil, WebSocket messages included
	p.mu.Lock()
	p.seen = append(p.seen, string(op)+" "+r.Method+" "+tenant)
	p.mu.Unlock()
	return context.WithValue(ctx, tenantKey{}, tenant), nil
}

func (p *tenantPolicy) Authorize(ctx context.Context, a *computemw.Action) error {
	if a.CreatesSandbox && ctx.Value(tenantKey{}) == "frozen" {
		return &computemw.Error{Code: computemw.CodeForbidden, Message: "tenant frozen"}
	}
	return nil
}

// Hooks returns the policy's hooks, the same on every call.
func (p *tenantPolicy) Hooks() *computemw.Hooks {
	p.once.Do(func() { p.hooks = &computemw.Hooks{ExecutionFinished: p.executionFinished} })
	return p.hooks
}

func (p *tenantPolicy) executionFinished(context.Context, *computemw.Action, *computemw.Result, error, time.Duration) {
	p.mu.Lock()
	p.finished++
	p.mu.Unlock()
}

func (p *tenantPolicy) admissions() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func TestThirdPartyPolicy(t *testing.T) {
	pol := &tenantPolicy{}
	// Listed as a policy and as hooks: the kit calls it once.
	kit, fake := computemwtest.SuiteKit(t, computemw.Config{Policies: []computemw.Policy{pol}, Hooks: []*computemw.Hooks{pol.Hooks()}})
	ctx := context.Background()

	frozen := http.Header{"X-Tenant": {"frozen"}}
	if r := computemwtest.ServePath(ctx, kit, http.MethodPost, "/exec", `{"command":"echo x"}`, frozen); r.Status != 403 {
		t.Fatalf("frozen tenant's exec: %d %s", r.Status, r.Body)
	}
	sb, err := kit.Create(ctx, "", computemw.CreateOptions{})
	if err != nil {
		t.Fatalf("Create without a tenant: %v", err)
	}
	if err := sb.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if fake.Created() != 1 {
		t.Fatalf("created %d sandboxes, want 1 (the frozen tenant's exec must create none)", fake.Created())
	}

	if r := computemwtest.ServePath(ctx, kit, http.MethodPost, "/exec", `{"command":"echo x"}`, http.Header{"X-Tenant": {"t1"}}); r.Status != 200 {
		t.Fatalf("exec: %d %s", r.Status, r.Body)
	}
	if pol.finished != 1 {
		t.Errorf("the policy's hooks saw %d executions, want 1 (registered once)", pol.finished)
	}

	// Over a WebSocket, each message is admitted with the upgrade's headers.
	for _, tenant := range []string{"t2", "frozen"} {
		wctx, err := httpapi.New(kit).AdmitWebSocket(ctx, &computemw.Request{Method: http.MethodGet, Header: http.Header{"X-Tenant": {tenant}}})
		if err != nil {
			t.Fatal(err)
		}
		conn := newMemConn()
		done := make(chan error, 1)
		go func() { done <- httpapi.New(kit).ServeConn(wctx, conn) }()
		conn.send(t, httpapi.WSMessage{Type: "create-sandbox"})
		m := conn.next(t)
		switch {
		case tenant == "frozen" && (m.Type != "error" || m.Code != string(computemw.CodeForbidden)):
			t.Errorf("frozen tenant's create-sandbox: %+v", m)
		case tenant != "frozen" && m.Type != "sandbox-ready":
			t.Errorf("create-sandbox: %+v", m)
		}
		conn.Close(httpapi.CloseNormal, "")
		<-done
	}
	want := map[string]bool{"websocket WS t2": false, "websocket WS frozen": false}
	for _, s := range pol.admissions() {
		if _, ok := want[s]; ok {
			want[s] = true
		}
	}
	for s, ok := range want {
		if !ok {
			t.Errorf("no admission %q; saw %q", s, pol.admissions())
		}
	}
}
