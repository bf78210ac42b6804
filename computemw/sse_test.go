package computemw_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
)

func TestExecStreamEvents(t *testing.T) {
	kit, fake := newKit(t, computemw.Config{})
	ctx := context.Background()
	resp, body := call(t, ctx, kit, "POST", "/sandboxes", "", `{}`)
	if resp.Status != 201 {
		t.Fatalf("create: %d", resp.Status)
	}
	id := body["sandboxId"].(string)

	stream := func(body string) (*httpapi.Response, string, error) {
		for _, rt := range httpapi.New(kit).Routes() {
			if rt.Path == "/sandboxes/{id}/exec/stream" {
				resp := httpapi.New(kit).ServeRoute(ctx, rt, &computemw.Request{Method: "POST", Header: http.Header{"Content-Type": {"application/json"}},
					Body: strings.NewReader(body), Params: map[string]string{"id": id}})
				if resp.Stream == nil {
					return resp, string(resp.Body), nil
				}
				var buf bytes.Buffer
				flushes := 0
				err := resp.Stream(ctx, &buf, func() error { flushes++; return nil })
				if flushes == 0 {
					t.Error("stream never flushed")
				}
				return resp, buf.String(), err
			}
		}
		t.Fatal("no stream route")
		return nil, "", nil
	}
	resp, out, err := stream(`{"command":"lines 2"}`)
	if err != nil || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %v %v", err, resp.Header)
	}
	want := "event: stdout\ndata: \"line 1\\n\"\n\nevent: stdout\ndata: \"line 2\\n\"\n\nevent: exit\ndata: {\"exitCode\":0}\n\n"
	if out != want {
		t.Errorf("events:\n%s\nwant:\n%s", out, want)
	}
	_, out, _ = stream(`{"command":"sleep","timeout":20}`)
	if !strings.Contains(out, "event: error\ndata: {\"error\":\"execution exceeded its time limit\",\"code\":\"TIMEOUT\"") || !strings.Contains(out, "event: exit") {
		t.Errorf("timeout events: %s", out)
	}
	if resp, _, _ := stream(`{"cwd":"x"}`); resp.Status != 400 {
		t.Errorf("missing command: %d", resp.Status)
	}
	// A client that is gone stops the execution.
	for _, rt := range httpapi.New(kit).Routes() {
		if rt.Path == "/sandboxes/{id}/exec/stream" {
			resp := httpapi.New(kit).ServeRoute(ctx, rt, &computemw.Request{Method: "POST", Header: http.Header{"Content-Type": {"application/json"}},
				Body: strings.NewReader(`{"command":"lines 1000"}`), Params: map[string]string{"id": id}})
			err := resp.Stream(ctx, failingWriter{}, func() error { return nil })
			if err == nil {
				t.Error("a failing client did not stop the stream")
			}
		}
	}
	call(t, ctx, kit, "DELETE", "/sandboxes/{id}", id, "")
	if fake.Live() != 0 {
		t.Errorf("%d live", fake.Live())
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("client gone") }
