package computemw_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/computemw/httpapi"
)

// twoInstances builds two kits sharing one session store and one provider
// instance (a remote service both reach).
func twoInstances(t *testing.T, p computemw.Provider, cfg computemw.Config) (*computemw.Kit, *computemw.Kit) {
	t.Helper()
	cfg.Providers = []computemw.Provider{p}
	if cfg.SessionStore == nil {
		cfg.SessionStore = &computemw.MemorySessionStore{}
	}
	c1, c2 := cfg, cfg
	c1.InstanceID, c2.InstanceID = "one", "two"
	if cfg.InstanceURL != "" {
		c1.InstanceURL, c2.InstanceURL = "http://one.example/api", "http://two.example/api"
	}
	return startKit(t, c1), startKit(t, c2)
}

func TestSessionServedByAnyInstance(t *testing.T) {
	fake := fakeprovider.New("remote")
	k1, k2 := twoInstances(t, fake, computemw.Config{})
	alice := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice"})
	bob := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "bob"})

	resp, body := call(t, alice, k1, "POST", "/sandboxes", "", `{"metadata":{"course":"go"}}`)
	if resp.Status != 201 {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	id := body["sandboxId"].(string)
	expires := body["expiresAt"].(string)
	if resp, b := call(t, alice, k2, "POST", "/sandboxes/{id}/exec", id, `{"command":"echo from two"}`); resp.Status != 200 || b["output"] != "from two\n" {
		t.Fatalf("exec on the other instance: %d %s", resp.Status, resp.Body)
	}
	if resp, b := call(t, alice, k2, "POST", "/sandboxes/{id}/keepalive", id, ``); resp.Status != 200 || b["expiresAt"].(string) <= expires ||
		b["metadata"].(map[string]any)["course"] != "go" {
		t.Fatalf("keepalive on the other instance: %d %s (created expiring %s)", resp.Status, resp.Body, expires)
	}
	if resp, b := call(t, alice, k2, "GET", "/sandboxes", "", ``); resp.Status != 200 || len(b["sandboxes"].([]any)) != 1 {
		t.Errorf("list on the other instance: %d %s", resp.Status, resp.Body)
	}
	if resp, _ := call(t, bob, k2, "POST", "/sandboxes/{id}/exec", id, `{"command":"echo hi"}`); resp.Status != 404 {
		t.Errorf("another caller's use: %d %s", resp.Status, resp.Body)
	}
	if resp, _ := call(t, alice, k2, "DELETE", "/sandboxes/{id}", id, ``); resp.Status != 204 {
		t.Fatalf("delete on the other instance: %d %s", resp.Status, resp.Body)
	}
	if fake.Live() != 0 {
		t.Errorf("%d sandboxes left after the delete", fake.Live())
	}
	if resp, _ := call(t, alice, k1, "GET", "/sandboxes/{id}", id, ``); resp.Status != 404 {
		t.Errorf("the creating instance still serves a deleted session: %d %s", resp.Status, resp.Body)
	}
	if n := k1.Stats().Live + k2.Stats().Live; n != 0 {
		t.Errorf("%d handles held after the delete", n)
	}
}

func TestSessionLimitsAcrossInstances(t *testing.T) {
	fake := fakeprovider.New("remote")
	k1, k2 := twoInstances(t, fake, computemw.Config{MaxSessionsPerPrincipal: 2, MaxSessions: 3})
	alice := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice"})
	bob := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "bob"})
	var ids []string
	for _, k := range []*computemw.Kit{k1, k2} {
		resp, body := call(t, alice, k, "POST", "/sandboxes", "", ``)
		if resp.Status != 201 {
			t.Fatalf("create: %d %s", resp.Status, resp.Body)
		}
		ids = append(ids, body["sandboxId"].(string))
	}
	for _, k := range []*computemw.Kit{k1, k2} {
		if resp, body := call(t, alice, k, "POST", "/sandboxes", "", ``); resp.Status != 429 || body["code"] != "RATE_LIMITED" {
			t.Errorf("third session of one caller: %d %s", resp.Status, resp.Body)
		}
	}
	if resp, _ := call(t, bob, k1, "POST", "/sandboxes", "", ``); resp.Status != 201 {
		t.Fatalf("bob's session: %d %s", resp.Status, resp.Body)
	}
	if resp, body := call(t, bob, k2, "POST", "/sandboxes", "", ``); resp.Status != 503 || body["code"] != "UNAVAILABLE" {
		t.Errorf("past the total: %d %s", resp.Status, resp.Body)
	}
	if resp, _ := call(t, alice, k2, "DELETE", "/sandboxes/{id}", ids[0], ``); resp.Status != 204 {
		t.Fatalf("delete: %d %s", resp.Status, resp.Body)
	}
	if resp, _ := call(t, alice, k1, "POST", "/sandboxes", "", ``); resp.Status != 201 {
		t.Errorf("after a delete on the other instance: %d %s", resp.Status, resp.Body)
	}
	if fake.Live() != 3 {
		t.Errorf("%d sandboxes live, want 3", fake.Live())
	}
}

func TestExpiredSessionReapedByAnyInstance(t *testing.T) {
	fake := fakeprovider.New("remote")
	store := &computemw.MemorySessionStore{}
	k1, k2 := twoInstances(t, fake, computemw.Config{SessionStore: store})
	alice := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice"})
	resp, body := call(t, alice, k1, "POST", "/sandboxes", "", ``)
	if resp.Status != 201 {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	id := body["sandboxId"].(string)
	ctx := context.Background()
	if n, err := k2.Sessions().Reap(ctx); n != 0 || err != nil {
		t.Fatalf("reaped a live session: %d, %v", n, err)
	}
	// The session's TTL passes (the record's expiry is set in the past).
	if err := store.Touch(ctx, id, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := k2.Sessions().Reap(ctx); n != 1 || err != nil {
		t.Fatalf("ReapSessions = %d, %v; want 1", n, err)
	}
	if fake.Live() != 0 {
		t.Errorf("the expired session's sandbox is alive")
	}
	if resp, _ := call(t, alice, k1, "POST", "/sandboxes/{id}/exec", id, `{"command":"echo hi"}`); resp.Status != 404 {
		t.Errorf("use of an expired session: %d %s", resp.Status, resp.Body)
	}
	if n := k1.Stats().Live; n != 0 {
		t.Errorf("the creating instance holds %d handles", n)
	}
}

// hostOnly hides the fake's Attacher: sandboxes that only the instance that
// made them reaches, as the local provider's.
type hostOnly struct{ computemw.Provider }

func TestHostSessionOnAnotherInstance(t *testing.T) {
	alice := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice"})
	bob := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "bob"})
	t.Run("Redirect", func(t *testing.T) {
		fake := fakeprovider.New("local")
		k1, k2 := twoInstances(t, hostOnly{fake}, computemw.Config{InstanceURL: "set"})
		resp, body := call(t, alice, k1, "POST", "/sandboxes", "", ``)
		if resp.Status != 201 {
			t.Fatalf("create: %d %s", resp.Status, resp.Body)
		}
		id := body["sandboxId"].(string)
		for _, c := range []struct{ method, path, want string }{
			{"POST", "/sandboxes/{id}/exec", "/sandboxes/" + id + "/exec"},
			{"POST", "/sandboxes/{id}/keepalive", "/sandboxes/" + id + "/keepalive"},
			{"DELETE", "/sandboxes/{id}", "/sandboxes/" + id},
		} {
			resp, b := call(t, alice, k2, c.method, c.path, id, `{"command":"echo hi"}`)
			if loc := resp.Header.Get("Location"); resp.Status != 307 || b["code"] != "SESSION_ELSEWHERE" || loc != "http://one.example/api"+c.want {
				t.Errorf("%s %s on the other instance: %d Location %q %s", c.method, c.path, resp.Status, loc, resp.Body)
			}
		}
		if resp, _ := call(t, bob, k2, "POST", "/sandboxes/{id}/exec", id, `{"command":"echo hi"}`); resp.Status != 404 {
			t.Errorf("another caller learns of the session: %d %s", resp.Status, resp.Body)
		}
		if resp, b := call(t, alice, k1, "POST", "/sandboxes/{id}/exec", id, `{"command":"echo here"}`); resp.Status != 200 || b["output"] != "here\n" {
			t.Errorf("exec on the owner instance: %d %s", resp.Status, resp.Body)
		}
		if fake.Live() != 1 {
			t.Errorf("%d sandboxes live, want 1", fake.Live())
		}
	})
	t.Run("NoInstanceURL", func(t *testing.T) {
		fake := fakeprovider.New("local")
		k1, k2 := twoInstances(t, hostOnly{fake}, computemw.Config{})
		resp, body := call(t, alice, k1, "POST", "/sandboxes", "", ``)
		if resp.Status != 201 {
			t.Fatalf("create: %d %s", resp.Status, resp.Body)
		}
		id := body["sandboxId"].(string)
		resp, b := call(t, alice, k2, "POST", "/sandboxes/{id}/exec", id, `{"command":"echo hi"}`)
		if resp.Status != 421 || b["code"] != "WRONG_INSTANCE" || b["details"].(map[string]any)["instance"] != "one" {
			t.Errorf("exec on the other instance: %d %s", resp.Status, resp.Body)
		}
		// Closing the owner destroys its host's sandboxes and their records.
		ctx := context.Background()
		if err := k1.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if fake.Live() != 0 {
			t.Errorf("%d sandboxes live after the owner closed", fake.Live())
		}
		if resp, _ := call(t, alice, k2, "POST", "/sandboxes/{id}/exec", id, `{"command":"echo hi"}`); resp.Status != 404 {
			t.Errorf("after the owner closed: %d %s", resp.Status, resp.Body)
		}
	})
}

func TestCloseLeavesRemoteSessions(t *testing.T) {
	fake := fakeprovider.New("remote")
	k1, k2 := twoInstances(t, fake, computemw.Config{})
	alice := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice"})
	resp, body := call(t, alice, k1, "POST", "/sandboxes", "", ``)
	if resp.Status != 201 {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	id := body["sandboxId"].(string)
	if err := k1.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if resp, b := call(t, alice, k2, "POST", "/sandboxes/{id}/exec", id, `{"command":"echo still"}`); resp.Status != 200 || b["output"] != "still\n" {
		t.Fatalf("after the creating instance closed: %d %s", resp.Status, resp.Body)
	}
	if resp, _ := call(t, alice, k2, "DELETE", "/sandboxes/{id}", id, ``); resp.Status != 204 || fake.Live() != 0 {
		t.Errorf("delete: %d %s, %d live", resp.Status, resp.Body, fake.Live())
	}
}

func TestExpiredSessionEndedByTheInstanceThatSeesIt(t *testing.T) {
	fake := fakeprovider.New("remote")
	store := &computemw.MemorySessionStore{}
	k1, k2 := twoInstances(t, fake, computemw.Config{SessionStore: store})
	alice := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice"})
	resp, body := call(t, alice, k1, "POST", "/sandboxes", "", ``)
	if resp.Status != 201 {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	id := body["sandboxId"].(string)
	if err := store.Touch(context.Background(), id, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if resp, _ := call(t, alice, k2, "POST", "/sandboxes/{id}/exec", id, `{"command":"echo hi"}`); resp.Status != 404 {
		t.Errorf("use of an expired session: %d %s", resp.Status, resp.Body)
	}
	if fake.Live() != 0 {
		t.Errorf("the expired session's sandbox is alive")
	}
	if _, err := store.Get(context.Background(), id); err == nil {
		t.Errorf("the expired session's record is left")
	}
	_ = k1
}

// A session in use on one instance is not ended by another's reaper: its
// record's expiry covers the longest use until the use ends.
func TestSessionInUseOutlivesItsTTL(t *testing.T) {
	fake := fakeprovider.New("remote")
	store := &computemw.MemorySessionStore{}
	k1, _ := twoInstances(t, fake, computemw.Config{SessionStore: store, SessionTTL: time.Minute, MaxTimeout: time.Hour})
	alice := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice"})
	info, err := k1.Sessions().Create(alice, computemw.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, release, err := k1.Sessions().Sandbox(alice, info.SandboxID)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := store.Get(context.Background(), info.SandboxID)
	if err != nil || time.Until(rec.ExpiresAt) < time.Hour {
		t.Errorf("in use, the record expires in %v (%v), want past the longest execution", time.Until(rec.ExpiresAt), err)
	}
	release()
	rec, err = store.Get(context.Background(), info.SandboxID)
	if err != nil || time.Until(rec.ExpiresAt) > time.Minute {
		t.Errorf("after the use, the record expires in %v (%v), want one TTL", time.Until(rec.ExpiresAt), err)
	}
}

// The record of a host-only session whose instance is gone is dropped by
// another instance once it is long expired; a fresh one is left to its
// owner.
func TestOrphanHostRecordDropped(t *testing.T) {
	fake := fakeprovider.New("local")
	store := &computemw.MemorySessionStore{}
	k1, k2 := twoInstances(t, hostOnly{fake}, computemw.Config{SessionStore: store, SessionReapInterval: time.Minute})
	alice := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice"})
	info, err := k1.Sessions().Create(alice, computemw.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_ = store.Touch(ctx, info.SandboxID, time.Now().Add(-time.Second))
	if n, _ := k2.Sessions().Reap(ctx); n != 1 {
		t.Fatalf("reaped %d", n)
	}
	if _, err := store.Get(ctx, info.SandboxID); err != nil {
		t.Errorf("another instance dropped a just-expired record its owner reaps: %v", err)
	}
	_ = store.Touch(ctx, info.SandboxID, time.Now().Add(-time.Hour))
	if n, _ := k2.Sessions().Reap(ctx); n != 1 {
		t.Fatalf("reaped %d", n)
	}
	if _, err := store.Get(ctx, info.SandboxID); err == nil {
		t.Errorf("a long-expired record of another instance was left")
	}
	if fake.Live() != 1 {
		t.Errorf("another instance destroyed a host-only sandbox")
	}
}

// A WebSocket connection's sandbox counts in the shared session books: a
// caller's sessions on one instance and connections on another share one
// limit.
func TestWebSocketSandboxesCountAcrossInstances(t *testing.T) {
	fake := fakeprovider.New("remote")
	k1, k2 := twoInstances(t, fake, computemw.Config{MaxSessionsPerPrincipal: 2})
	ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice"})
	if _, err := k1.Sessions().Create(ctx, computemw.SessionOptions{}); err != nil {
		t.Fatal(err)
	}
	open := func() (*memConn, chan error) {
		wctx, err := httpapi.New(k2).AdmitWebSocket(ctx, &computemw.Request{Method: http.MethodGet})
		if err != nil {
			t.Fatal(err)
		}
		conn := newMemConn()
		done := make(chan error, 1)
		go func() { done <- httpapi.New(k2).ServeConn(wctx, conn) }()
		conn.send(t, httpapi.WSMessage{Type: "create-sandbox"})
		return conn, done
	}
	c1, d1 := open()
	c1.expect(t, "sandbox-ready")
	c2, d2 := open()
	if m := c2.expect(t, "error"); m.Code != string(computemw.CodeRateLimited) {
		t.Errorf("third sandbox of one caller: %+v", m)
	}
	if _, err := k1.Sessions().Create(ctx, computemw.SessionOptions{}); computemw.StatusOf(err) != 429 {
		t.Errorf("a session past the limit on the other instance: %v", err)
	}
	c1.Close(httpapi.CloseNormal, "")
	<-d1
	// The place is given back with the connection.
	c2.send(t, httpapi.WSMessage{Type: "create-sandbox"})
	c2.expect(t, "sandbox-ready")
	c2.Close(httpapi.CloseNormal, "")
	<-d2
}
