package computemw_test

import (
	"context"
	"errors"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/fakeprovider"
)

func callerCtx(t *testing.T, kit *computemw.Kit, id string) context.Context {
	t.Helper()
	ctx, err := kit.Admit(computemw.WithPrincipal(context.Background(), computemw.Principal{ID: id}), computemw.OpSessions, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

// TestSessionSandbox: a session's governed sandbox is its owner's only,
// runs governed executions, and is gone once the session is.
func TestSessionSandbox(t *testing.T) {
	fake := fakeprovider.New("fake")
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{fake}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kit.Close(context.Background()) })
	alice, bob := callerCtx(t, kit, "alice"), callerCtx(t, kit, "bob")
	info, err := kit.Sessions().Create(alice, computemw.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sb, release, err := kit.Sessions().Sandbox(alice, info.SandboxID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := sb.Exec(alice, "echo hi", computemw.ExecOptions{})
	if err != nil || res.Stdout != "hi\n" || sb.ID() != info.SandboxID {
		t.Fatalf("Exec: %v %+v", err, res)
	}
	if _, ok := sb.(computemw.TerminalOpener); !ok {
		t.Error("the session's sandbox opens no terminals")
	}
	release()
	if _, _, err := kit.Sessions().Sandbox(bob, info.SandboxID); !errors.Is(err, computemw.ErrNotFound) {
		t.Errorf("another caller: %v, want NOT_FOUND", err)
	}
	if err := kit.Sessions().Destroy(alice, info.SandboxID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := kit.Sessions().Sandbox(alice, info.SandboxID); !errors.Is(err, computemw.ErrNotFound) {
		t.Errorf("after DestroySession: %v, want NOT_FOUND", err)
	}
	if fake.Live() != 0 {
		t.Errorf("%d sandboxes live", fake.Live())
	}
}

// TestOpenConnection: connections count in the WebSocket books, per
// caller (429) and in all (503), and give their place back once.
func TestOpenConnection(t *testing.T) {
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{fakeprovider.New("fake")},
		WebSocket: computemw.WSConfig{MaxConnsPerCaller: 2, MaxConns: 3}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kit.Close(context.Background()) })
	alice, bob := callerCtx(t, kit, "alice"), callerCtx(t, kit, "bob")
	a1, err := kit.OpenConnection(alice, computemw.OpWebSocket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kit.OpenConnection(alice, computemw.OpWebSocket); err != nil {
		t.Fatal(err)
	}
	if _, err := kit.OpenConnection(alice, computemw.OpWebSocket); !errors.Is(err, computemw.ErrRateLimited) {
		t.Errorf("alice's third: %v, want RATE_LIMITED", err)
	}
	if _, err := kit.OpenConnection(bob, computemw.OpWebSocket); err != nil {
		t.Fatal(err)
	}
	if _, err := kit.OpenConnection(bob, computemw.OpWebSocket); !errors.Is(err, computemw.ErrUnavailable) {
		t.Errorf("past the total: %v, want UNAVAILABLE", err)
	}
	a1()
	a1() // idempotent: gives back one place only
	if _, err := kit.OpenConnection(bob, computemw.OpWebSocket); err != nil {
		t.Errorf("after a connection closed: %v", err)
	}
	if _, err := kit.OpenConnection(bob, computemw.OpWebSocket); !errors.Is(err, computemw.ErrUnavailable) {
		t.Errorf("a second done gave back a second place: %v", err)
	}
}
