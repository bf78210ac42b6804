package computemw_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
)

// entry runs one command through one entry point of the kit as the
// caller with headers h, and returns the HTTP status the outcome maps to.
type entry func(t *testing.T, g *computemwtest.Governed, h http.Header, command string) int

func statusOf(err error) int { return computemw.StatusOf(err) }

// request is what a transport knows of its caller.
func request(h http.Header) *computemw.Request {
	return &computemw.Request{Method: http.MethodPost, Header: h, RemoteAddr: "127.0.0.1:40000"}
}

var entries = map[string]entry{
	"route": func(t *testing.T, g *computemwtest.Governed, h http.Header, command string) int {
		return computemwtest.ServePath(context.Background(), g.Kit, http.MethodPost, "/exec",
			fmt.Sprintf(`{"command":%q,"timeout":60000}`, command), h).Status
	},
	"middleware sandbox in a handler": func(t *testing.T, g *computemwtest.Governed, h http.Header, command string) int {
		ctx, release, err := httpapi.New(g.Kit).EnterRequest(context.Background(), request(h), httpapi.MiddlewareOptions{})
		defer release()
		if err != nil {
			return statusOf(err)
		}
		_, err = computemwtest.RunInRequest(ctx, strings.NewReader(fmt.Sprintf(`{"command":%q}`, command)))
		return statusOf(err)
	},
	"Acquire": func(t *testing.T, g *computemwtest.Governed, h http.Header, command string) int {
		ctx, err := g.Kit.Admit(context.Background(), computemw.OpExec, request(h))
		if err != nil {
			return statusOf(err)
		}
		sb, release, err := g.Kit.Acquire(ctx, "", computemw.CreateOptions{})
		defer release()
		if err != nil {
			return statusOf(err)
		}
		_, err = sb.Exec(ctx, command, computemw.ExecOptions{Timeout: time.Minute})
		return statusOf(err)
	},
	"Create with the app's own principal": func(t *testing.T, g *computemwtest.Governed, h http.Header, command string) int {
		ctx := context.Background()
		if h.Get("X-Api-Key") != "" { // an app that authenticated the caller itself
			ctx = computemw.WithPrincipal(ctx, computemw.Principal{ID: "gov", Role: "governed", Plan: "pro"})
		}
		sb, err := g.Kit.Create(ctx, "", computemw.CreateOptions{})
		if err != nil {
			return statusOf(err)
		}
		defer sb.Destroy(context.Background())
		_, err = sb.Exec(ctx, command, computemw.ExecOptions{Timeout: time.Minute})
		return statusOf(err)
	},
	"Execute (custom transport)": func(t *testing.T, g *computemwtest.Governed, h http.Header, command string) int {
		ctx, err := g.Kit.Admit(context.Background(), computemw.OpExec, request(h))
		if err != nil {
			return statusOf(err)
		}
		_, err = g.Kit.Execute(ctx, computemw.Run{Command: command, Timeout: time.Minute})
		return statusOf(err)
	},
	"event stream": func(t *testing.T, g *computemwtest.Governed, h http.Header, command string) int {
		ctx := context.Background()
		resp := computemwtest.ServePath(ctx, g.Kit, http.MethodPost, "/sandboxes", `{}`, h)
		if resp.Status != 201 {
			return resp.Status
		}
		id := between(string(resp.Body), `"sandboxId":"`, `"`)
		defer computemwtest.ServePath(ctx, g.Kit, http.MethodDelete, "/sandboxes/{id}", "", h)
		_ = id
		stream := httpapi.New(g.Kit).ServeRoute(ctx, computemwtest.RouteOf(g.Kit, "/sandboxes/{id}/exec/stream"), &computemw.Request{
			Method: http.MethodPost, Header: withJSON(h), RemoteAddr: "127.0.0.1:40000", Params: map[string]string{"id": id},
			Body: strings.NewReader(fmt.Sprintf(`{"command":%q,"timeout":60000}`, command)),
		})
		if stream.Stream == nil {
			return stream.Status
		}
		var buf bytes.Buffer
		_ = stream.Stream(ctx, &buf, func() error { return nil })
		if code := between(buf.String(), `"code":"`, `"`); code != "" {
			return computemw.StatusOf(&computemw.Error{Code: computemw.Code(code)})
		}
		return 200
	},
	"WebSocket": func(t *testing.T, g *computemwtest.Governed, h http.Header, command string) int {
		ctx, err := httpapi.New(g.Kit).AdmitWebSocket(context.Background(), &computemw.Request{Method: http.MethodGet, Header: h, RemoteAddr: "127.0.0.1:40000"})
		if err != nil {
			return statusOf(err)
		}
		conn := newMemConn()
		done := make(chan error, 1)
		go func() { done <- httpapi.New(g.Kit).ServeConn(ctx, conn) }()
		defer func() {
			conn.Close(httpapi.CloseNormal, "")
			<-done
		}()
		conn.send(t, httpapi.WSMessage{Type: "create-sandbox"})
		if m := conn.next(t); m.Type != "sandbox-ready" {
			return computemw.StatusOf(&computemw.Error{Code: computemw.Code(m.Code)})
		}
		conn.send(t, httpapi.WSMessage{Type: "execute", Command: command})
		status := 200
		for {
			switch m := conn.next(t); m.Type {
			case "error":
				status = computemw.StatusOf(&computemw.Error{Code: computemw.Code(m.Code)})
			case "execution-complete":
				return status
			}
		}
	},
}

func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}

// Every entry point takes the one governed path: an execution is
// admitted, counted in compute_executions_total, logged once, charged to
// the quota and held to the role's time limit; a caller without
// credentials creates nothing.
func TestEveryEntryIsGoverned(t *testing.T) {
	for name, run := range entries {
		t.Run(name, func(t *testing.T) {
			g := computemwtest.GovernedKit(t)
			creds := g.Credentials()

			before := g.Snapshot(t)
			if s := run(t, g, creds, "echo governed"); s != 200 {
				t.Fatalf("echo: status %d", s)
			}
			g.CheckOneExecution(t, before, computemw.StatusSuccess)

			// "sleep" runs until its time limit: the role's, not the minute
			// the caller asked for.
			before = g.Snapshot(t)
			if s := run(t, g, creds, "sleep"); s != 408 {
				t.Fatalf("sleep: status %d, want 408", s)
			}
			g.CheckOneExecution(t, before, computemw.StatusTimeout)

			before = g.Snapshot(t)
			if s := run(t, g, http.Header{}, "echo denied"); s != 401 {
				t.Fatalf("no credentials: status %d, want 401", s)
			}
			g.CheckNothing(t, before)
		})
	}
}

func withJSON(h http.Header) http.Header {
	h = h.Clone()
	h.Set("Content-Type", "application/json")
	return h
}
