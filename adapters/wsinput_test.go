package adapters_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/adapters/internal/harness"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
)

// nodeStdinEndClient runs a program that reads its input to the end over
// the WebSocket protocol with the npm client ws: it sends two pieces of
// input, waits for the first line's answer, then ends the input with
// stdin-end. It prints one JSON summary line.
const nodeStdinEndClient = `'use strict';
const WebSocket = require(process.env.WS_MODULE);
const job = JSON.parse(process.argv[2]);
const summary = {output: '', exitCode: null, error: ''};
let ended = false, done = false;
const ws = new WebSocket(job.url);
const timer = setTimeout(() => finish('timed out: the program did not finish'), job.timeoutMs);
function finish(err) {
  if (done) return;
  done = true;
  clearTimeout(timer);
  if (err) { summary.error = err; process.exitCode = 1; ws.terminate(); } else ws.close(1000, 'done');
  process.stdout.write(JSON.stringify(summary) + '\n');
}
const send = (m) => ws.send(JSON.stringify(m));
ws.on('error', (e) => finish('socket error: ' + e.message));
ws.on('open', () => send({type: 'create-sandbox'}));
ws.on('message', (data) => {
  const m = JSON.parse(data.toString());
  if (m.type === 'error') return finish('server error ' + m.code + ': ' + m.message);
  if (m.type === 'sandbox-ready') {
    send({type: 'execute', language: 'python', code: job.python});
    send({type: 'stdin', data: 'olleh\n'});
    send({type: 'stdin', data: 'rest'});
  } else if (m.type === 'output') {
    summary.output += m.data;
    if (!ended && summary.output.includes('hello\n')) {
      ended = true;
      send({type: 'stdin-end'});
    }
  } else if (m.type === 'execution-complete') {
    summary.exitCode = m.exitCode;
    finish('');
  }
});
`

// TestNodeWebSocketStdinEnd: a program that reads its input to the end
// finishes once the client sends stdin-end, with the Node.js client ws
// (without the message it waits for input until its time limit).
func TestNodeWebSocketStdinEnd(t *testing.T) {
	node, module := nodeWS(t)
	script := filepath.Join(t.TempDir(), "stdin-end.cjs")
	if err := os.WriteFile(script, []byte(nodeStdinEndClient), 0o600); err != nil {
		t.Fatal(err)
	}
	kit := localKit(t, computemw.Config{})
	base := harness.NetHTTP(t, kit)
	job, _ := json.Marshal(map[string]any{
		"url":       "ws" + strings.TrimPrefix(base, "http") + computemwtest.Prefix + "/ws",
		"python":    "import sys\nfor line in sys.stdin:\n    print(line.strip()[::-1], flush=True)\nprint('end of input')",
		"timeoutMs": 20000,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, node, script, string(job))
	cmd.Env = append(os.Environ(), "WS_MODULE="+module)
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var s struct {
		Output   string `json:"output"`
		ExitCode *int   `json:"exitCode"`
		Error    string `json:"error"`
	}
	if jerr := json.Unmarshal(out, &s); jerr != nil {
		t.Fatalf("node client: %v, output %q (%v)\n%s", err, out, jerr, stderr.String())
	}
	if err != nil || s.Error != "" {
		t.Fatalf("node client: %v: %s (output so far %q)\n%s", err, s.Error, s.Output, stderr.String())
	}
	if s.Output != "hello\ntser\nend of input\n" || s.ExitCode == nil || *s.ExitCode != 0 {
		t.Errorf("got output %q, exit code %v", s.Output, s.ExitCode)
	}
	waitFor(t, func() bool { return kit.Stats().Live == 0 })
}

// An execute message takes stdin, env, args and timeout as POST /execute
// does: stdin is the whole input (the program reads its end), env and
// args reach the program, and the timeout ends a program that cannot
// finish. Input after the end, and a second end, are refused.
func TestWebSocketExecuteOptions(t *testing.T) {
	kit := localKit(t, computemw.Config{})
	ws := dialWS(t, harness.NetHTTP(t, kit))
	ws.send(httpapi.WSMessage{Type: "create-sandbox"})
	if m := ws.next(); m.Type != "sandbox-ready" {
		t.Fatalf("got %+v", m)
	}
	in := "olleh\nrest"
	ws.send(httpapi.WSMessage{Type: "execute", Language: "python", Stdin: &in,
		Env: map[string]string{"GREETING": "hi"}, Args: []string{"a b", "c"},
		Code: "import os, sys\nprint(os.environ['GREETING'], sys.argv[1:], repr(sys.stdin.read()), flush=True)\nsys.stdin.readline()\nprint('done')"})
	out := ws.until("output", "done\n")
	if want := "hi ['a b', 'c'] 'olleh\\nrest'\ndone\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	if m := ws.next(); m.Type != "execution-complete" || *m.ExitCode != 0 {
		t.Fatalf("got %+v", m)
	}

	// The input ended with the message's stdin: more is refused.
	ws.send(httpapi.WSMessage{Type: "execute", Command: "cat; sleep 1000", Stdin: new(string), Timeout: ptr(300.0)})
	ws.send(httpapi.WSMessage{Type: "stdin", Data: "late"})
	ws.send(httpapi.WSMessage{Type: "stdin-end"})
	for _, want := range []string{"the program's input has ended", "the program's input has ended"} {
		if m := ws.nextAny(); m.Type != "error" || m.Code != "BAD_REQUEST" || m.Message != want {
			t.Fatalf("got %+v, want BAD_REQUEST %q", m, want)
		}
	}
	// The timeout ends the program that cannot finish.
	if m := ws.nextAny(); m.Type != "error" || m.Code != string(computemw.CodeTimeout) {
		t.Fatalf("got %+v, want a TIMEOUT error", m)
	}
	if m := ws.next(); m.Type != "execution-complete" {
		t.Fatalf("got %+v", m)
	}
	ws.send(httpapi.WSMessage{Type: "execute", Command: "true", Timeout: ptr(-1.0)})
	if m := ws.nextAny(); m.Type != "error" || m.Code != "BAD_REQUEST" || !strings.Contains(m.Message, "timeout") {
		t.Fatalf("got %+v, want a BAD_REQUEST about the timeout", m)
	}
	ws.send(httpapi.WSMessage{Type: "stdin-end"})
	if m := ws.nextAny(); m.Type != "error" || m.Message != "no execution is running" {
		t.Fatalf("got %+v", m)
	}
}

func ptr[T any](v T) *T { return &v }

// nextAny reads the next message, errors included.
func (w *wsClient) nextAny() httpapi.WSMessage {
	w.t.Helper()
	_, b, err := w.c.Read(w.ctx)
	if err != nil {
		w.t.Fatalf("read: %v", err)
	}
	var m httpapi.WSMessage
	if err := json.Unmarshal(b, &m); err != nil {
		w.t.Fatalf("%s: %v", b, err)
	}
	return m
}
