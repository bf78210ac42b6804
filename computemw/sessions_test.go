package computemw_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
)

// call runs one request through the route group with path parameters and
// a context (for the principal).
func call(t *testing.T, ctx context.Context, kit *computemw.Kit, method, pattern, id, body string) (*httpapi.Response, map[string]any) {
	t.Helper()
	for _, rt := range httpapi.New(kit).Routes() {
		if rt.Path != pattern {
			continue
		}
		resp := httpapi.New(kit).ServeRoute(ctx, rt, &computemw.Request{
			Method: method, Header: http.Header{"Content-Type": {"application/json"}}, Body: strings.NewReader(body),
			Params: map[string]string{"id": id},
		})
		var m map[string]any
		if len(resp.Body) > 0 {
			if err := json.Unmarshal(resp.Body, &m); err != nil {
				t.Fatalf("%s %s: %v: %s", method, pattern, err, resp.Body)
			}
		}
		return resp, m
	}
	t.Fatalf("no route %s", pattern)
	return nil, nil
}

func TestSessionLifecycle(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{})
	ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice"})
	resp, body := call(t, ctx, kit, "POST", "/sandboxes", "", `{"metadata":{"course":"go101"}}`)
	if resp.Status != 201 {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	id, _ := body["sandboxId"].(string)
	if id == "" || body["status"] != "running" || body["provider"] != "fake" || body["expiresAt"] == nil {
		t.Fatalf("create body: %s", resp.Body)
	}
	// Files written in one call are readable in the next.
	if resp, _ := call(t, ctx, kit, "POST", "/sandboxes/{id}/files", id, `{"action":"write","path":"a.txt","content":"kept"}`); resp.Status != 200 {
		t.Fatalf("write: %d %s", resp.Status, resp.Body)
	}
	if resp, b := call(t, ctx, kit, "POST", "/sandboxes/{id}/files", id, `{"action":"read","path":"a.txt"}`); resp.Status != 200 || b["content"] != "kept" {
		t.Fatalf("read: %d %s", resp.Status, resp.Body)
	}
	// The body's sandboxId on the stateless routes targets it too.
	if resp, b := call(t, ctx, kit, "POST", "/files", "", `{"action":"read","path":"a.txt","sandboxId":"`+id+`"}`); resp.Status != 200 || b["content"] != "kept" {
		t.Fatalf("read by body id: %d %s", resp.Status, resp.Body)
	}
	if resp, b := call(t, ctx, kit, "POST", "/sandboxes/{id}/exec", id, `{"command":"echo hi"}`); resp.Status != 200 || b["sandboxId"] != id {
		t.Fatalf("exec: %d %s", resp.Status, resp.Body)
	}
	if resp, b := call(t, ctx, kit, "POST", "/sandboxes/{id}/execute", id, `{"language":"python","code":"echo x"}`); resp.Status != 200 || b["output"] != "x\n" {
		t.Fatalf("execute: %d %s", resp.Status, resp.Body)
	}
	if fake.Created() != 1 {
		t.Errorf("session operations created %d sandboxes, want 1", fake.Created())
	}
	if resp, b := call(t, ctx, kit, "GET", "/sandboxes", "", ""); resp.Status != 200 || len(b["sandboxes"].([]any)) != 1 {
		t.Fatalf("list: %d %s", resp.Status, resp.Body)
	}
	if resp, _ := call(t, ctx, kit, "POST", "/sandboxes/{id}/keepalive", id, ""); resp.Status != 200 {
		t.Fatalf("keepalive: %d %s", resp.Status, resp.Body)
	}

	// Someone else sees nothing.
	bob := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "bob"})
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/sandboxes/{id}", ""}, {"DELETE", "/sandboxes/{id}", ""},
		{"POST", "/sandboxes/{id}/exec", `{"command":"echo x"}`}, {"POST", "/sandboxes/{id}/keepalive", ""},
	} {
		if resp, b := call(t, bob, kit, c.method, c.path, id, c.body); resp.Status != 404 || b["code"] != "NOT_FOUND" {
			t.Errorf("bob %s %s: %d %s", c.method, c.path, resp.Status, resp.Body)
		}
	}
	if _, b := call(t, bob, kit, "GET", "/sandboxes", "", ""); len(b["sandboxes"].([]any)) != 0 {
		t.Errorf("bob lists alice's sessions: %v", b)
	}

	if resp, _ := call(t, ctx, kit, "DELETE", "/sandboxes/{id}", id, ""); resp.Status != 204 {
		t.Fatalf("delete: %d %s", resp.Status, resp.Body)
	}
	if fake.Live() != 0 {
		t.Errorf("delete left %d sandboxes", fake.Live())
	}
	if resp, _ := call(t, ctx, kit, "GET", "/sandboxes/{id}", id, ""); resp.Status != 404 {
		t.Errorf("deleted session still answers: %d", resp.Status)
	}
}

func TestSessionTTL(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{})
	ctx := context.Background()
	resp, _ := call(t, ctx, kit, "POST", "/sandboxes", "", `{"timeout":50}`)
	if resp.Status != 201 {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	if !fake.WaitLive(0, 10*time.Second) {
		t.Fatal("session not reaped after its TTL")
	}
}

func TestSessionLimitsAndValidation(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{MaxSessionsPerPrincipal: 2, MaxSessions: 3})
	alice := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice"})
	bob := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "bob"})
	for range 2 {
		if resp, _ := call(t, alice, kit, "POST", "/sandboxes", "", `{}`); resp.Status != 201 {
			t.Fatalf("create: %d", resp.Status)
		}
	}
	if resp, b := call(t, alice, kit, "POST", "/sandboxes", "", `{}`); resp.Status != 429 || b["code"] != "RATE_LIMITED" {
		t.Errorf("third session for alice: %d %s", resp.Status, resp.Body)
	}
	if resp, _ := call(t, bob, kit, "POST", "/sandboxes", "", `{}`); resp.Status != 201 {
		t.Errorf("bob: %d", resp.Status)
	}
	if resp, b := call(t, bob, kit, "POST", "/sandboxes", "", `{}`); resp.Status != 503 || b["code"] != "UNAVAILABLE" {
		t.Errorf("over the total: %d %s", resp.Status, resp.Body)
	}
	for _, body := range []string{`{"timeout":-5}`, `{"timeout":1e15}`, `{"language":"cobol"}`, `{"provider":"nope"}`, `{"metadata":"x"}`} {
		if resp, _ := call(t, bob, kit, "POST", "/sandboxes", "", body); resp.Status != 400 {
			t.Errorf("%s: %d %s", body, resp.Status, resp.Body)
		}
	}
	if fake.Created() != 3 {
		t.Errorf("created %d", fake.Created())
	}
}

// Concurrent creates cannot overshoot the limits: places are held while
// sandboxes are created.
func TestSessionLimitsUnderConcurrency(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{MaxSessionsPerPrincipal: 3})
	alice := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice"})
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for range 40 {
		wg.Go(func() {
			resp, _ := call(t, alice, kit, "POST", "/sandboxes", "", `{}`)
			mu.Lock()
			defer mu.Unlock()
			if resp.Status == 201 {
				created++
			} else if resp.Status != 429 {
				t.Errorf("create: %d %s", resp.Status, resp.Body)
			}
		})
	}
	wg.Wait()
	if created != 3 || fake.Live() != 3 {
		t.Errorf("40 concurrent creates made %d sessions (%d live), limit 3", created, fake.Live())
	}
}

// Without authentication, callers are told apart by address: one cannot
// list, read, use or delete another's sessions.
func TestAnonymousSessionsBelongToTheirAddress(t *testing.T) {
	kit, _ := newKit(t, computemw.Config{})
	ctx := context.Background()
	serve := func(addr, method, path, id, body string) *httpapi.Response {
		h := http.Header{}
		if body != "" {
			h.Set("Content-Type", "application/json")
		}
		return httpapi.New(kit).ServeRoute(ctx, computemwtest.RouteOf(kit, path), &computemw.Request{
			Method: method, Header: h, RemoteAddr: addr, Params: map[string]string{"id": id}, Body: strings.NewReader(body),
		})
	}
	r := serve("192.0.2.1:1000", http.MethodPost, "/sandboxes", "", `{}`)
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var info computemw.SessionInfo
	if err := json.Unmarshal(r.Body, &info); err != nil {
		t.Fatal(err)
	}
	other := "198.51.100.7:2000"
	if r := serve(other, http.MethodGet, "/sandboxes", "", ""); strings.Contains(string(r.Body), info.SandboxID) {
		t.Errorf("another address lists the session: %s", r.Body)
	}
	if r := serve(other, http.MethodGet, "/sandboxes/{id}", info.SandboxID, ""); r.Status != 404 {
		t.Errorf("another address reads the session: %d", r.Status)
	}
	if r := serve(other, http.MethodPost, "/sandboxes/{id}/exec", info.SandboxID, `{"command":"echo x"}`); r.Status != 404 {
		t.Errorf("another address runs in the session: %d", r.Status)
	}
	if r := serve(other, http.MethodDelete, "/sandboxes/{id}", info.SandboxID, ""); r.Status != 404 {
		t.Errorf("another address deletes the session: %d", r.Status)
	}
	if r := serve("192.0.2.1:1001", http.MethodGet, "/sandboxes/{id}", info.SandboxID, ""); r.Status != 200 {
		t.Errorf("the owner (another port) cannot read its session: %d", r.Status)
	}
	if r := serve("192.0.2.1:1001", http.MethodDelete, "/sandboxes/{id}", info.SandboxID, ""); r.Status != 204 {
		t.Errorf("the owner cannot delete its session: %d", r.Status)
	}
}

// Behind a trusted proxy, anonymous callers are told apart by the address
// the proxy forwards, not by the proxy's own.
func TestAnonymousSessionsBehindAProxy(t *testing.T) {
	kit, _ := newKit(t, computemw.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	via := func(client, method, path, id, body string) *httpapi.Response {
		h := http.Header{"X-Forwarded-For": {client}}
		if body != "" {
			h.Set("Content-Type", "application/json")
		}
		return httpapi.New(kit).ServeRoute(context.Background(), computemwtest.RouteOf(kit, path), &computemw.Request{
			Method: method, Header: h, RemoteAddr: "10.0.0.1:5000", Params: map[string]string{"id": id}, Body: strings.NewReader(body),
		})
	}
	r := via("192.0.2.1", http.MethodPost, "/sandboxes", "", `{}`)
	var info computemw.SessionInfo
	if err := json.Unmarshal(r.Body, &info); err != nil || r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	if r := via("192.0.2.2", http.MethodGet, "/sandboxes/{id}", info.SandboxID, ""); r.Status != 404 {
		t.Errorf("another client behind the proxy reads the session: %d", r.Status)
	}
	if r := via("192.0.2.1", http.MethodDelete, "/sandboxes/{id}", info.SandboxID, ""); r.Status != 204 {
		t.Errorf("the owner behind the proxy: %d", r.Status)
	}
}
