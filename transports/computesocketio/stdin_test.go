package computesocketio_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/local"
	"github.com/computemw/kit/transports/computesocketio/socketiotest"
)

// localKit is a kit over a real local provider (bwrap) on a fresh base
// directory, closed at cleanup.
func localKit(t *testing.T) *computemw.Kit {
	t.Helper()
	_, err := exec.LookPath("bwrap")
	computemwtest.Require(t, err == nil, "bubblewrap (bwrap) is not installed")
	base, err := os.MkdirTemp("", "computemw-socketio-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o711); err != nil {
		t.Fatal(err)
	}
	prov, err := local.New(local.Config{BaseDir: base, Logger: slog.New(slog.DiscardHandler), WarmPool: local.PoolConfig{Size: -1}})
	if err != nil {
		t.Fatalf("local.New: %v", err)
	}
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{prov}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := kit.Close(ctx); err != nil {
			t.Errorf("kit.Close: %v", err)
		}
		if left, _ := filepath.Glob(filepath.Join(base, "*")); len(left) != 0 {
			t.Errorf("left behind: %v", left)
		}
	})
	return kit
}

// TestNodeClientStdinEnd: with socket.io-client, a program that reads its
// input to the end, started with openStdin, gets input from stdin events
// and finishes after stdin-end, in a real sandbox. Env and args reach it.
// An unknown field is refused, naming it.
func TestNodeClientStdinEnd(t *testing.T) {
	kit := localKit(t)
	srv := serverFor(t, kit)
	url := frameworks[0].mount(t, srv)
	code := "import os, sys\nprint(os.environ['GREETING'], sys.argv[1:], flush=True)\n" +
		"for line in sys.stdin:\n    print(line.strip()[::-1], flush=True)\nprint('end of input')"
	sum := socketiotest.Run(t, socketiotest.Job{URL: url, Path: srv.Path(), Transports: []string{"websocket"}, Steps: []socketiotest.Step{
		{Emit: "start-session", Payload: map[string]any{}, Await: []string{"session-started", "error"}},
		{Emit: "execute-code", Payload: map[string]any{"language": "python", "code": code, "stdn": "x"}, Await: []string{"error", "execution-result"}},
		{Emit: "execute-code", Payload: map[string]any{"id": "r1", "language": "python", "code": code, "openStdin": true,
			"stdin": "olleh\n", "env": map[string]string{"GREETING": "hi"}, "args": []string{"a b"}}, Await: []string{"execution-output", "execution-error", "error"}},
		{Emit: "stdin", Payload: map[string]any{"id": "r1", "data": "rest"}},
		{Emit: "stdin-end", Payload: map[string]any{"id": "r1"}, Await: []string{"execution-result", "execution-error", "error"}},
		{Emit: "stdin", Payload: map[string]any{"id": "r1", "data": "late"}, Await: []string{"error"}},
	}})
	var result, refusal map[string]any
	if e := sum.Events[1]; e.Event != "error" || e.Payload["code"] != "BAD_REQUEST" || e.Payload["message"] != `unknown field "stdn"` {
		t.Errorf("execute-code with an unknown field: %+v, want BAD_REQUEST naming it", e)
	}
	for _, e := range sum.Events[2:] {
		switch e.Event {
		case "execution-result":
			result = e.Payload
		case "error", "execution-error":
			if result == nil {
				t.Fatalf("%s before the result: %v", e.Event, e.Payload)
			}
			refusal = e.Payload
		}
	}
	if result == nil || result["output"] != "hi ['a b']\nhello\ntser\nend of input\n" || result["exitCode"] != 0.0 {
		t.Fatalf("execution-result %v; events %+v", result, sum.Events)
	}
	if refusal == nil || refusal["code"] != "BAD_REQUEST" {
		t.Errorf("stdin after the run: %v, want BAD_REQUEST", refusal)
	}
}
