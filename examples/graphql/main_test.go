package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/internal/exampletest"
)

// TestExample builds and runs the example as a user would, then speaks
// GraphQL to it: a program runs, a session keeps a file that a later
// program reads, an invalid document is a BAD_REQUEST error, a
// subscription streams a program's output; SIGTERM then stops the server
// cleanly with nothing left behind.
func TestExample(t *testing.T) {
	srv := exampletest.Start(t, "github.com/computemw/kit/examples/graphql")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	gql := func(query string, vars map[string]any) *computemwtest.Reply {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		return computemwtest.Do(t, ctx, "POST", srv.URL+"/graphql", string(b), nil)
	}
	data := func(r *computemwtest.Reply, field string) map[string]any {
		t.Helper()
		d, _ := r.Body["data"].(map[string]any)
		m, ok := d[field].(map[string]any)
		if !ok || r.Body["errors"] != nil {
			t.Fatalf("%s: %d %s", field, r.Status, r.Raw)
		}
		return m
	}

	r := gql(`mutation { executeCode(language: "python", code: "print(2+2)") { output exitCode success } }`, nil)
	if res := data(r, "executeCode"); res["output"] != "4\n" || res["success"] != true {
		t.Errorf("executeCode: %s", r.Raw)
	}

	id := data(gql(`mutation { createSession(language: "python") { sandboxId } }`, nil), "createSession")["sandboxId"]
	vars := map[string]any{"id": id}
	gql(`mutation W($id: ID) { writeFile(path: "hello.txt", content: "kept", sandboxId: $id) }`, vars)
	r = gql(`mutation R($id: ID) { executeCode(language: "python", code: "print(open('hello.txt').read())", sandboxId: $id) { output } }`, vars)
	if res := data(r, "executeCode"); res["output"] != "kept\n" {
		t.Errorf("session file: %s", r.Raw)
	}
	// The GraphiQL page points at this endpoint and loads GraphiQL from a
	// pinned CDN URL, checked by its integrity hash.
	if r := computemwtest.Do(t, ctx, "GET", srv.URL+"/graphiql", "", nil); r.Status != 200 ||
		!strings.Contains(string(r.Raw), "graphiql@") || !strings.Contains(string(r.Raw), `integrity="sha`) ||
		!strings.Contains(string(r.Raw), "/graphql") {
		t.Errorf("GET /graphiql: %d %.300s", r.Status, r.Raw)
	}
	if r = gql(`{ nope }`, nil); r.Status != 422 || !strings.Contains(string(r.Raw), `"code":"BAD_REQUEST"`) {
		t.Errorf("invalid document: %d %s", r.Status, r.Raw)
	}

	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	send := func(m map[string]any) {
		t.Helper()
		b, _ := json.Marshal(m)
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	send(map[string]any{"type": "connection_init"})
	send(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{
		"query": `subscription { execution(command: "echo one; echo two >&2") {
			... on OutputChunk { stream data } ... on ExecutionResult { exitCode } } }`}})
	var chunks []string
	for done := false; !done; {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var m struct {
			Type    string `json:"type"`
			Payload struct {
				Data struct {
					Execution map[string]any `json:"execution"`
				} `json:"data"`
			} `json:"payload"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		switch m.Type {
		case "connection_ack", "ping", "pong":
		case "next":
			if e := m.Payload.Data.Execution; e["stream"] != nil {
				chunks = append(chunks, e["stream"].(string)+":"+e["data"].(string))
			}
		case "complete":
			done = true
		default:
			t.Fatalf("message %s", b)
		}
	}
	// The two streams are read apart: each arrives whole, in either order.
	slices.Sort(chunks)
	if strings.Join(chunks, "|") != "STDERR:two\n|STDOUT:one\n" {
		t.Errorf("streamed chunks %q", chunks)
	}
	c.Close(websocket.StatusNormalClosure, "")
	// The metrics at the root are governed as /api/metrics: a foreign
	// Host is refused on both.
	exampletest.CheckMetrics(t, srv, nil, "/metrics", "/api/metrics")
	srv.Stop(t)
}
