package computemw_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
)

// A connection attaches to the caller's session: it runs in the session's
// sandbox (the browser test of examples/playground reads a file written
// through /files), its end leaves the session alive, and another caller's session is
// NOT_FOUND.
func TestWebSocketAttachesToSession(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{})
	alice := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice"})
	info, err := kit.Sessions().Create(alice, computemw.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := computemwtest.ServePath(alice, kit, http.MethodPost, "/files",
		`{"action":"write","path":"note.txt","content":"from the explorer","sandboxId":"`+info.SandboxID+`"}`, nil)
	if r.Status != 200 {
		t.Fatalf("write: %d %s", r.Status, r.Body)
	}

	serve := func(ctx context.Context) (*memConn, chan error) {
		conn := newMemConn()
		done := make(chan error, 1)
		go func() { done <- httpapi.New(kit).ServeConn(ctx, conn) }()
		return conn, done
	}
	bob := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "bob"})
	conn, done := serve(bob)
	conn.send(t, httpapi.WSMessage{Type: "create-sandbox", SandboxID: info.SandboxID})
	if m := conn.expect(t, "error"); m.Code != "NOT_FOUND" {
		t.Errorf("another caller's session: %+v", m)
	}
	conn.Close(1000, "")
	<-done

	conn, done = serve(alice)
	conn.send(t, httpapi.WSMessage{Type: "create-sandbox", SandboxID: info.SandboxID})
	if m := conn.expect(t, "sandbox-ready"); m.SandboxID != info.SandboxID {
		t.Fatalf("ready: %+v", m)
	}
	conn.send(t, httpapi.WSMessage{Type: "create-sandbox", SandboxID: info.SandboxID})
	conn.expect(t, "error") // one per connection
	conn.send(t, httpapi.WSMessage{Type: "execute", Command: "echo in the session"})
	if m := conn.expect(t, "output"); m.Data != "in the session\n" {
		t.Errorf("output: %+v", m)
	}
	conn.expect(t, "execution-complete")
	if fake.Created() != 1 {
		t.Errorf("created %d sandboxes: the connection must use the session's", fake.Created())
	}
	conn.send(t, httpapi.WSMessage{Type: "destroy-sandbox"})
	conn.send(t, httpapi.WSMessage{Type: "execute", Command: "true"})
	if m := conn.expect(t, "error"); m.Message != "No active sandbox" {
		t.Errorf("after detaching: %+v", m)
	}
	conn.send(t, httpapi.WSMessage{Type: "create-sandbox", SandboxID: info.SandboxID})
	conn.expect(t, "sandbox-ready")
	conn.Close(1000, "")
	<-done

	if fake.Live() != 1 {
		t.Errorf("%d sandboxes live, want the session's", fake.Live())
	}
	if err := kit.Sessions().Destroy(alice, info.SandboxID); err != nil {
		t.Fatal(err)
	}
	if fake.Live() != 0 {
		t.Errorf("%d sandboxes live after DELETE", fake.Live())
	}
}
