package computesocketio_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	computesocketio "github.com/computemw/kit/transports/computesocketio"
	"github.com/computemw/kit/transports/computesocketio/socketiotest"
)

// answers are the events an event may be answered with.
var answers = []string{"error", "session-started", "session-ended", "execution-result", "execution-error", "terminal-output"}

// replies are the events of sum that answer events (live output aside).
func replies(sum socketiotest.Summary) []socketiotest.Event {
	var out []socketiotest.Event
	for _, e := range sum.Events {
		if e.Event != "execution-output" {
			out = append(out, e)
		}
	}
	return out
}

// TestGoverned: an execution through Socket.IO is admitted (the API key of
// the handshake), authorized and held to the caller's role's time limit,
// counted in the metrics, logged and charged to the quota exactly once; a
// caller without credentials is refused at the handshake and nothing is
// created, run or charged; the connection counts in
// compute_active_connections while it lasts.
func TestGoverned(t *testing.T) {
	g := computemwtest.GovernedKit(t)
	srv := serverFor(t, g.Kit)
	url := frameworks[0].mount(t, srv)

	before := g.Snapshot(t)
	sum := socketiotest.Run(t, socketiotest.Job{URL: url, Path: srv.Path(), Auth: map[string]any{"apiKey": computemwtest.GovernedAPIKey},
		Steps: []socketiotest.Step{
			{Emit: "start-session", Await: answers},
			{Emit: "execute-code", Payload: map[string]any{"command": "echo governed"}, Await: answers},
		}})
	r := replies(sum)
	if len(r) != 2 || r[0].Event != "session-started" || r[1].Event != "execution-result" || r[1].Payload["output"] != "governed\n" {
		t.Fatalf("events %+v", sum.Events)
	}
	if !g.Fake.WaitLive(0, 10*time.Second) {
		t.Fatalf("%d sandboxes live after the disconnect", g.Fake.Live())
	}
	g.CheckOneExecution(t, before, computemw.StatusSuccess)

	// The role's time limit holds: a program that sleeps is stopped.
	sum = socketiotest.Run(t, socketiotest.Job{URL: url, Path: srv.Path(), Auth: map[string]any{"apiKey": computemwtest.GovernedAPIKey},
		Steps: []socketiotest.Step{
			{Emit: "start-session", Await: answers},
			{Emit: "execute-code", Payload: map[string]any{"command": "sleep", "timeout": 60000}, Await: answers},
		}})
	if r := replies(sum); len(r) != 2 || r[1].Event != "execution-error" || r[1].Payload["code"] != "TIMEOUT" ||
		r[1].Payload["output"] != "started\n" {
		t.Errorf("sleep beyond the role's limit: %+v", sum.Events)
	}

	before = g.Snapshot(t)
	none := socketiotest.Run(t, socketiotest.Job{URL: url, Path: srv.Path(), ExpectRefusal: true})
	if none.ConnectError == nil || none.ConnectError.Data["code"] != "UNAUTHORIZED" {
		t.Errorf("no credentials: %+v", none.ConnectError)
	}
	g.CheckNothing(t, before)
	if !g.Fake.WaitLive(0, 10*time.Second) {
		t.Errorf("%d sandboxes live", g.Fake.Live())
	}
	if n := computemwtest.MetricValue(t, g.Kit, "compute_active_connections", nil); n != 0 {
		t.Errorf("compute_active_connections = %v after every client left", n)
	}
}

// TestBadInput: every malformed or misplaced event gets an error with a
// stable code and leaves nothing running; one session per socket, one
// execution at a time.
func TestBadInput(t *testing.T) {
	_, prov, srv := jwtKit(t)
	url := frameworks[0].mount(t, srv)
	created := prov.Created()
	sum := socketiotest.Run(t, socketiotest.Job{URL: url, Path: srv.Path(), Auth: map[string]any{"token": token(t, "bob", "free", secret)},
		Steps: []socketiotest.Step{
			{Emit: "execute-code", Payload: "not an object", Await: answers},
			{Emit: "rm-rf", Payload: map[string]any{}, Await: answers},
			{Emit: "start-session", Payload: map[string]any{"provider": "nope"}, Await: answers},
			{Emit: "start-session", Payload: map[string]any{"template": "cobol"}, Await: answers},
			{Emit: "start-session", Payload: map[string]any{"template": 7}, Await: answers},
			{Emit: "terminal-resize", Payload: map[string]any{"cols": 80, "rows": 24}, Await: answers},
			{Emit: "start-session", Await: answers},
			{Emit: "start-session", Await: answers},
			{Emit: "execute-code", Payload: map[string]any{"language": "python"}, Await: answers},
			{Emit: "execute-code", Payload: map[string]any{"language": "python", "code": "echo x", "timeout": -5}, Await: answers},
			{Emit: "execute-code", Payload: map[string]any{"language": "cobol", "code": "echo x"}, Await: answers},
			{Emit: "terminal-resize", Payload: map[string]any{"cols": 0}, Await: answers},
			{Emit: "execute-code", Payload: map[string]any{"id": "long", "language": "python", "code": "block"}},
			{Emit: "execute-code", Payload: map[string]any{"id": "second", "language": "python", "code": "echo 2"}, Await: answers},
		}})
	want := []struct{ event, code string }{
		{"error", "BAD_REQUEST"},           // a payload that is not an object
		{"error", "BAD_REQUEST"},           // an unknown event
		{"error", "BAD_REQUEST"},           // unknown provider
		{"error", "EXECUTION_ERROR"},       // a template the provider has no runtime for
		{"error", "BAD_REQUEST"},           // a field of the wrong type
		{"error", "BAD_REQUEST"},           // no terminal to resize
		{"session-started", ""},            // the socket's session
		{"error", "BAD_REQUEST"},           // one session per socket
		{"execution-error", "BAD_REQUEST"}, // no code
		{"error", "BAD_REQUEST"},           // a negative timeout
		{"execution-error", "EXECUTION_ERROR"},
		{"error", "BAD_REQUEST"}, // no size
		{"error", "BAD_REQUEST"}, // a second execution while one runs
	}
	r := replies(sum)
	if len(r) != len(want) {
		t.Fatalf("%d answers, want %d: %+v", len(r), len(want), sum.Events)
	}
	for i, w := range want {
		code, _ := r[i].Payload["code"].(string)
		if r[i].Event != w.event || code != w.code || (w.code != "" && r[i].Payload["message"] == "") {
			t.Errorf("answer %d: %s %v, want %s %s", i, r[i].Event, r[i].Payload, w.event, w.code)
		}
	}
	if !strings.Contains(r[len(r)-1].Payload["message"].(string), "at most 1 executions") {
		t.Errorf("concurrency refusal: %v", r[len(r)-1].Payload)
	}
	if n := prov.Created() - created; n != 1 {
		t.Errorf("%d sandboxes created, want the session's only", n)
	}
	// The disconnect stops the execution still running and destroys the
	// session.
	if !prov.WaitLive(0, 10*time.Second) {
		t.Errorf("%d sandboxes live after the disconnect", prov.Live())
	}
}

// TestSessionLifecycle: end-session destroys the sandbox while the socket
// stays, and a new session may follow.
func TestSessionLifecycle(t *testing.T) {
	_, prov, srv := jwtKit(t)
	url := frameworks[0].mount(t, srv)
	sum := socketiotest.Run(t, socketiotest.Job{URL: url, Path: srv.Path(), Auth: map[string]any{"token": token(t, "carol", "pro", secret)},
		Steps: []socketiotest.Step{
			{Emit: "start-session", Await: answers},
			{Emit: "end-session", Await: answers},
			{Emit: "execute-code", Payload: map[string]any{"language": "python", "code": "echo x"}, Await: answers},
			{Emit: "start-session", Await: answers},
			{Emit: "execute-code", Payload: map[string]any{"language": "python", "code": "echo again"}, Await: answers},
		}})
	r := replies(sum)
	if len(r) != 5 || r[0].Event != "session-started" || r[1].Event != "session-ended" ||
		r[1].Payload["sandboxId"] != r[0].Payload["sandboxId"] || r[2].Event != "error" || r[2].Payload["message"] != "No active session" ||
		r[3].Event != "session-started" || r[4].Event != "execution-result" || r[4].Payload["output"] != "again\n" {
		t.Fatalf("events %+v", sum.Events)
	}
	if !prov.WaitLive(0, 10*time.Second) || prov.Created() != 2 {
		t.Errorf("live %d, created %d", prov.Live(), prov.Created())
	}
}

// TestMessageTooLarge: a message over MaxMessageBytes closes the
// connection, and its session's sandbox is destroyed.
func TestMessageTooLarge(t *testing.T) {
	kit, prov, _ := jwtKit(t)
	srv := computesocketio.New(kit, computesocketio.Config{MaxMessageBytes: 4096})
	t.Cleanup(func() { srv.Close(context.Background()) })
	url := frameworks[0].mount(t, srv)
	sum := socketiotest.Run(t, socketiotest.Job{URL: url, Path: srv.Path(), Auth: map[string]any{"token": token(t, "dave", "pro", secret)},
		Transports: []string{"websocket"}, ExpectDisconnect: true,
		Steps: []socketiotest.Step{
			{Emit: "start-session", Await: answers},
			{Emit: "execute-code", Payload: map[string]any{"language": "python", "code": strings.Repeat("x", 8192)}, Await: []string{"never"}},
		}})
	if sum.Disconnect == "" || len(replies(sum)) != 1 {
		t.Errorf("disconnect %q, events %+v", sum.Disconnect, sum.Events)
	}
	if !prov.WaitLive(0, 10*time.Second) {
		t.Errorf("%d sandboxes live after the disconnect", prov.Live())
	}
}

// TestCloseDisconnects: closing the server disconnects its clients and
// destroys their sessions.
func TestCloseDisconnects(t *testing.T) {
	kit, prov, _ := jwtKit(t)
	srv := computesocketio.New(kit, computesocketio.Config{})
	url := frameworks[0].mount(t, srv)
	closed := make(chan error, 1)
	go func() {
		// Close once the client's session runs a program.
		select {
		case <-prov.Started():
		case <-t.Context().Done(): // the test ended (skipped without a client)
			closed <- context.Canceled
			return
		case <-time.After(20 * time.Second):
			closed <- context.DeadlineExceeded
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		closed <- srv.Close(ctx)
	}()
	sum := socketiotest.Run(t, socketiotest.Job{URL: url, Path: srv.Path(), Auth: map[string]any{"token": token(t, "erin", "pro", secret)},
		ExpectDisconnect: true,
		Steps: []socketiotest.Step{
			{Emit: "start-session", Await: answers},
			{Emit: "execute-code", Payload: map[string]any{"language": "python", "code": "block"}, Await: []string{"never"}},
		}})
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if sum.Disconnect == "" {
		t.Errorf("not disconnected: %+v", sum)
	}
	if n := prov.Live(); n != 0 {
		t.Errorf("%d sandboxes live after Close", n)
	}
}
