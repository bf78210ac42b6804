package graphql_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsMsg is one message of the graphql-transport-ws protocol.
type wsMsg struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsClient is a minimal graphql-transport-ws client for tests.
type wsClient struct {
	t *testing.T
	c *websocket.Conn
}

// dialWS opens a graphql-transport-ws connection to base's /graphql with
// the upgrade's header, and sends connection_init with payload. It returns
// the client once acknowledged, or the error that closed the connection
// (a *websocket.CloseError for a refusal), or the upgrade's HTTP status.
func dialWS(t *testing.T, base string, header http.Header, payload map[string]any) (*wsClient, int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql", &websocket.DialOptions{
		HTTPHeader: header, Subprotocols: []string{"graphql-transport-ws"},
	})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, status, err
	}
	c.SetReadLimit(4 << 20)
	cl := &wsClient{t: t, c: c}
	t.Cleanup(func() { c.CloseNow() })
	p, _ := json.Marshal(payload)
	cl.send(wsMsg{Type: "connection_init", Payload: p})
	m, err := cl.read(ctx)
	if err != nil {
		return nil, 101, err
	}
	if m.Type != "connection_ack" {
		t.Fatalf("after connection_init: %+v", m)
	}
	return cl, 101, nil
}

func (cl *wsClient) send(m wsMsg) {
	cl.t.Helper()
	b, _ := json.Marshal(m)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cl.c.Write(ctx, websocket.MessageText, b); err != nil {
		cl.t.Fatalf("write: %v", err)
	}
}

// subscribe starts subscription id.
func (cl *wsClient) subscribe(id, query string, vars map[string]any) {
	cl.t.Helper()
	p, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	cl.send(wsMsg{Type: "subscribe", ID: id, Payload: p})
}

// read returns the next message other than a ping (which it answers).
func (cl *wsClient) read(ctx context.Context) (wsMsg, error) {
	for {
		_, b, err := cl.c.Read(ctx)
		if err != nil {
			return wsMsg{}, err
		}
		var m wsMsg
		if err := json.Unmarshal(b, &m); err != nil {
			cl.t.Fatalf("message is not JSON: %q", b)
		}
		if m.Type == "ping" {
			cl.send(wsMsg{Type: "pong"})
			continue
		}
		return m, nil
	}
}

// event is one "next" payload of an execution subscription.
type event struct {
	Typename string `json:"__typename"`
	Stream   string `json:"stream"`
	Data     string `json:"data"`
	Output   string `json:"output"`
	Success  bool   `json:"success"`
	ExitCode int    `json:"exitCode"`
	Sandbox  string `json:"sandboxId"`
	// ExecutionID is an ExecutionStarted's.
	ExecutionID string `json:"executionId"`
}

// nextEvent reads the next message, which must be an event of
// subscription id without errors.
func (cl *wsClient) nextEvent(id string) event {
	cl.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := cl.read(ctx)
	if err != nil {
		cl.t.Fatalf("reading subscription %s: %v", id, err)
	}
	var p struct {
		Data struct {
			Execution *event `json:"execution"`
		} `json:"data"`
		Errors []gqlError `json:"errors"`
	}
	if m.ID != id || m.Type != "next" || json.Unmarshal(m.Payload, &p) != nil || len(p.Errors) != 0 || p.Data.Execution == nil {
		cl.t.Fatalf("want an event of subscription %s, got %+v", id, m)
	}
	return *p.Data.Execution
}

// collect reads subscription id to its end: its events, and the errors
// of an "error" message or of a "next" that carries errors.
func (cl *wsClient) collect(id string) ([]event, []gqlError) {
	cl.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var (
		events []event
		errs   []gqlError
	)
	for {
		m, err := cl.read(ctx)
		if err != nil {
			cl.t.Fatalf("reading subscription %s: %v", id, err)
		}
		if m.ID != id {
			cl.t.Fatalf("message of another subscription: %+v", m)
		}
		switch m.Type {
		case "next":
			var p struct {
				Data struct {
					Execution *event `json:"execution"`
				} `json:"data"`
				Errors []gqlError `json:"errors"`
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil {
				cl.t.Fatalf("next payload %s: %v", m.Payload, err)
			}
			errs = append(errs, p.Errors...)
			if p.Data.Execution != nil {
				events = append(events, *p.Data.Execution)
			}
		case "error":
			var list []gqlError
			if err := json.Unmarshal(m.Payload, &list); err != nil {
				cl.t.Fatalf("error payload %s: %v", m.Payload, err)
			}
			return events, append(errs, list...)
		case "complete":
			return events, errs
		default:
			cl.t.Fatalf("unexpected message %+v", m)
		}
	}
}

const executionDoc = `subscription Run($command: String, $language: String, $code: String, $timeout: Int, $id: ID) {
  execution(command: $command, language: $language, code: $code, timeout: $timeout, sandboxId: $id) {
    __typename
    ... on OutputChunk { stream data }
    ... on ExecutionResult { output success exitCode sandboxId }
  }
}`
