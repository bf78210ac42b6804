package graphql_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/transports/graphql"
)

// TestSubscriptionStreams runs executions over the WebSocket: output
// arrives as chunks in order, then the result; an error after output
// began ends the subscription with the kit's code and the output so far.
func TestSubscriptionStreams(t *testing.T) {
	kit, fake := computemwtest.SuiteKit(t, computemw.Config{})
	base := serve(t, kit, graphql.Options{})
	cl, _, err := dialWS(t, base, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := computemwtest.MetricValue(t, kit, "compute_active_connections", nil); n != 1 {
		t.Errorf("compute_active_connections = %v with one connection", n)
	}

	cl.subscribe("1", executionDoc, map[string]any{"command": "lines 3"})
	events, errs := cl.collect("1")
	if len(errs) != 0 || len(events) != 4 {
		t.Fatalf("lines 3: events %+v errors %+v", events, errs)
	}
	for i, e := range events[:3] {
		if want := "line " + string(rune('1'+i)) + "\n"; e.Typename != "OutputChunk" || e.Stream != "STDOUT" || e.Data != want {
			t.Errorf("event %d: %+v, want stdout %q", i, e, want)
		}
	}
	if last := events[3]; last.Typename != "ExecutionResult" || !last.Success || last.Output != "line 1\nline 2\nline 3\n" ||
		!strings.HasPrefix(last.Sandbox, "fake-") {
		t.Errorf("result %+v", last)
	}

	cl.subscribe("2", executionDoc, map[string]any{"language": "python", "code": "stderr oops"})
	events, errs = cl.collect("2")
	if len(errs) != 0 || len(events) != 2 || events[0].Stream != "STDERR" || events[0].Data != "oops\n" || events[1].ExitCode != 0 {
		t.Errorf("stderr: events %+v errors %+v", events, errs)
	}

	cl.subscribe("3", executionDoc, map[string]any{"command": "sleep", "timeout": 100})
	events, errs = cl.collect("3")
	if len(errs) != 1 || errs[0].Code() != "TIMEOUT" {
		t.Fatalf("timeout: events %+v errors %+v", events, errs)
	}
	if d, _ := errs[0].Extensions["details"].(map[string]any); d["output"] != "started\n" {
		t.Errorf("timeout details %+v", errs[0].Extensions)
	}

	for _, c := range []struct {
		name string
		vars map[string]any
		code string
	}{
		{"nothing to run", map[string]any{}, "BAD_REQUEST"},
		{"unknown language", map[string]any{"language": "cobol", "code": "x"}, "EXECUTION_ERROR"},
		{"unknown session", map[string]any{"command": "echo x", "id": "nope"}, "NOT_FOUND"},
	} {
		cl.subscribe(c.name, executionDoc, c.vars)
		if _, errs := cl.collect(c.name); len(errs) != 1 || errs[0].Code() != c.code {
			t.Errorf("%s: errors %+v, want %s", c.name, errs, c.code)
		}
	}
	cl.subscribe("bad", `subscription { execution(command: "x") { nope } }`, nil)
	if _, errs := cl.collect("bad"); len(errs) != 1 || errs[0].Code() != "BAD_REQUEST" {
		t.Errorf("invalid subscription document: %+v", errs)
	}
	waitFor(t, "every sandbox destroyed", func() bool { return fake.Live() == 0 })
	cl.c.Close(websocket.StatusNormalClosure, "")
	waitFor(t, "the closed connection uncounted", func() bool {
		return computemwtest.MetricValue(t, kit, "compute_active_connections", nil) == 0
	})
}

// TestSubscriptionInSession streams an execution in a session created by
// a mutation: the subscription runs where the session's files are.
func TestSubscriptionInSession(t *testing.T) {
	kit, fake := computemwtest.SuiteKit(t, computemw.Config{})
	base := serve(t, kit, graphql.Options{})
	id := post(t, base, `mutation { createSession { sandboxId } }`, nil, nil).field(t, "createSession")["sandboxId"]
	cl, _, err := dialWS(t, base, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl.subscribe("1", executionDoc, map[string]any{"command": "echo hi", "id": id})
	events, errs := cl.collect("1")
	if len(errs) != 0 || len(events) != 2 || events[1].Sandbox != id {
		t.Errorf("in session %v: events %+v errors %+v", id, events, errs)
	}
	if fake.Created() != 1 {
		t.Errorf("created %d sandboxes, want the session's only", fake.Created())
	}
}

// TestSubscriptionEnds: a client that completes its subscription, or
// leaves, stops the program and its sandbox; the connection's
// subscriptions are capped.
func TestSubscriptionEnds(t *testing.T) {
	kit, fake := computemwtest.SuiteKit(t, computemw.Config{})
	base := serve(t, kit, graphql.Options{MaxSubscriptionsPerConn: 1})
	cl, _, err := dialWS(t, base, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl.subscribe("1", executionDoc, map[string]any{"command": "block"})
	<-fake.Started()
	cl.subscribe("2", executionDoc, map[string]any{"command": "echo x"})
	if _, errs := cl.collect("2"); len(errs) != 1 || errs[0].Code() != "RATE_LIMITED" {
		t.Errorf("second subscription on a connection capped at 1: %+v", errs)
	}
	if fake.Created() != 1 {
		t.Errorf("the refused subscription created a sandbox")
	}
	cl.send(wsMsg{Type: "complete", ID: "1"})
	waitFor(t, "the completed subscription's sandbox destroyed", func() bool { return fake.Live() == 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if m, err := cl.read(ctx); err != nil || m.Type != "complete" || m.ID != "1" {
		t.Fatalf("after completing subscription 1: %+v %v", m, err)
	}

	// The place is free again.
	cl.subscribe("3", executionDoc, map[string]any{"command": "echo again"})
	if events, errs := cl.collect("3"); len(errs) != 0 || len(events) != 2 {
		t.Errorf("after completing: events %+v errors %+v", events, errs)
	}

	// A client that leaves mid-run.
	cl2, _, err := dialWS(t, base, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl2.subscribe("1", executionDoc, map[string]any{"command": "block"})
	<-fake.Started()
	cl2.c.CloseNow()
	waitFor(t, "a departed client's sandbox destroyed", func() bool { return fake.Live() == 0 && kit.Stats().Live == 0 })
}

// TestIdleConnectionClosed: a client that sends nothing after its
// connection_init, with nothing running, is disconnected after
// WSConfig.IdleTimeout. The connection is idle on its own, apart from the
// subscriptions of TestSubscriptionEnds, so that no pause of a loaded
// machine between their messages can pass for idleness.
func TestIdleConnectionClosed(t *testing.T) {
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{WebSocket: computemw.WSConfig{IdleTimeout: 2 * time.Second}})
	base := serve(t, kit, graphql.Options{})
	cl, _, err := dialWS(t, base, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := cl.read(ctx); err == nil || ctx.Err() != nil {
		t.Errorf("idle connection not closed by the server: %v", err)
	}
}

// TestWebSocketBounds: an oversized message closes the connection, a
// caller's connections are capped, and pages of origins the kit does not
// allow are refused before the upgrade.
func TestWebSocketBounds(t *testing.T) {
	kit, fake := computemwtest.SuiteKit(t, computemw.Config{
		AllowedOrigins: []string{"https://front.example"},
		WebSocket:      computemw.WSConfig{MaxMessageBytes: 1024, MaxConnsPerCaller: 1},
	})
	base := serve(t, kit, graphql.Options{})
	cl, _, err := dialWS(t, base, http.Header{"Origin": {"https://front.example"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := dialWS(t, base, nil, nil); closeReason(err) != "RATE_LIMITED" {
		t.Errorf("second connection of a caller capped at 1: %v", err)
	}
	cl.subscribe("big", executionDoc, map[string]any{"command": "echo " + strings.Repeat("x", 2048)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cl.read(ctx); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Errorf("oversized message: %v", err)
	}
	// The closed connection's place is given back.
	waitFor(t, "a new connection admitted", func() bool {
		c, _, err := dialWS(t, base, nil, nil)
		if err == nil {
			c.c.CloseNow()
		}
		return err == nil
	})
	if _, status, err := dialWS(t, base, http.Header{"Origin": {"https://evil.example"}}, nil); err == nil || status != http.StatusForbidden {
		t.Errorf("foreign origin: %d %v", status, err)
	}
	if fake.Created() != 0 {
		t.Errorf("created %d sandboxes", fake.Created())
	}
}

// TestWebSocketSameOrigin: without origin lists in the kit, only
// same-origin pages may open the WebSocket.
func TestWebSocketSameOrigin(t *testing.T) {
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{})
	base := serve(t, kit, graphql.Options{})
	if _, status, err := dialWS(t, base, http.Header{"Origin": {"https://evil.example"}}, nil); err == nil || status != http.StatusForbidden {
		t.Errorf("cross-origin page: %d %v", status, err)
	}
	if _, _, err := dialWS(t, base, http.Header{"Origin": {base}}, nil); err != nil {
		t.Errorf("same-origin page: %v", err)
	}
}

// closeReason is the kit code that a refused connection_init's close
// reason starts with, or "".
func closeReason(err error) string {
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4403 {
		return ""
	}
	code, _, _ := strings.Cut(ce.Reason, ":")
	return code
}

// TestStalledClient: a client that stops reading while its program floods
// output is disconnected after WSConfig.WriteTimeout, and the program and
// its sandbox end with it.
func TestStalledClient(t *testing.T) {
	kit, fake := computemwtest.SuiteKit(t, computemw.Config{WebSocket: computemw.WSConfig{WriteTimeout: 200 * time.Millisecond}})
	base := serve(t, kit, graphql.Options{})
	cl, _, err := dialWS(t, base, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Never read again: the socket's buffers fill, then the server's
	// writes block.
	cl.subscribe("1", executionDoc, map[string]any{"command": "lines 2000000"})
	// The fake counts a creation a moment before the sandbox is live: wait
	// for the execution's end too.
	waitFor(t, "the stalled client's execution ended and its sandbox destroyed", func() bool {
		return fake.Created() == 1 && fake.Live() == 0 &&
			computemwtest.MetricValue(t, kit, "compute_executions_total", map[string]string{"language": "command"}) == 1
	})
	if kit.Stats().Live != 0 {
		t.Errorf("%d sandboxes live", kit.Stats().Live)
	}
	// The program was stopped (the client left), it did not finish.
	for st, want := range map[string]float64{"success": 0, "error": 1} {
		if n := computemwtest.MetricValue(t, kit, "compute_executions_total", map[string]string{"status": st, "language": "command"}); n != want {
			t.Errorf("compute_executions_total{status=%s} = %v, want %v", st, n, want)
		}
	}
}
