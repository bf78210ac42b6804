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

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
)

// nodeClient is a WebSocket client of the kit's protocol written against
// the npm package ws, a third-party implementation of RFC 6455. Its
// argument is a JSON job; it prints one JSON summary line on stdout, and
// exits non-zero with summary.error set when anything goes wrong.
const nodeClient = `'use strict';
const WebSocket = require(process.env.WS_MODULE);
const job = JSON.parse(process.argv[2]);
const summary = {sandboxId: '', lines: [], firstExitCode: null, stdinOutput: '',
  secondExitCode: null, pings: 0, closeCode: null, error: ''};
let phase = 'connect', done = false, stdinSent = false;
const ws = new WebSocket(job.url);
const timer = setTimeout(() => finish('timed out'), job.timeoutMs);
function finish(err) {
  if (done) return;
  done = true;
  clearTimeout(timer);
  if (err) {
    summary.error = phase + ': ' + err;
    process.exitCode = 1;
    ws.terminate();
  }
  process.stdout.write(JSON.stringify(summary) + '\n');
}
const send = (m) => ws.send(JSON.stringify(m));
ws.on('ping', () => { // ws answers with a pong by itself
  summary.pings++;
  if (phase === 'closing' && summary.pings === 1) ws.close(1000, 'done');
});
ws.on('error', (e) => finish('socket error: ' + e.message));
ws.on('close', (code) => {
  summary.closeCode = code;
  finish(phase === 'closing' ? '' : 'closed by the server with ' + code);
});
ws.on('open', () => { phase = 'create'; send({type: 'create-sandbox'}); });
ws.on('message', (data, isBinary) => {
  if (isBinary) return finish('binary message');
  const m = JSON.parse(data.toString());
  if (m.type === 'error') return finish('server error ' + m.code + ': ' + m.message);
  if (phase === 'create' && m.type === 'sandbox-ready') {
    summary.sandboxId = m.sandboxId;
    phase = 'lines';
    send({type: 'execute', command: job.command});
  } else if (phase === 'lines' && m.type === 'output') {
    summary.lines.push({stream: m.stream, data: m.data});
    // The command prints its next line only once this one arrived.
    send({type: 'stdin', data: '\n'});
  } else if (phase === 'lines' && m.type === 'execution-complete') {
    summary.firstExitCode = m.exitCode;
    phase = 'stdin';
    send({type: 'execute', language: 'python', code: job.python});
  } else if (phase === 'stdin' && m.type === 'output') {
    summary.stdinOutput += m.data;
    // The program asks for input only once its prompt has arrived here.
    if (!stdinSent && summary.stdinOutput.includes(job.prompt)) {
      stdinSent = true;
      send({type: 'stdin', data: job.stdin});
    }
  } else if (phase === 'stdin' && m.type === 'execution-complete') {
    summary.secondExitCode = m.exitCode;
    phase = 'closing';
    // Close once the server has pinged at least once.
    if (summary.pings > 0) ws.close(1000, 'done');
  } else {
    finish('unexpected message ' + data.toString());
  }
});
`

// nodeSummary is what nodeClient prints.
type nodeSummary struct {
	SandboxID string `json:"sandboxId"`
	Lines     []struct {
		Stream string `json:"stream"`
		Data   string `json:"data"`
	} `json:"lines"`
	FirstExitCode  *int   `json:"firstExitCode"`
	StdinOutput    string `json:"stdinOutput"`
	SecondExitCode *int   `json:"secondExitCode"`
	Pings          int    `json:"pings"`
	CloseCode      *int   `json:"closeCode"`
	Error          string `json:"error"`
}

// moduleRoot walks up from the test's working directory to go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// nodeWS returns the node binary and the directory of the npm package ws
// that scripts/setup-node-ws.sh installs (make setup).
func nodeWS(t *testing.T) (node, module string) {
	t.Helper()
	node, err := exec.LookPath("node")
	module = filepath.Join(moduleRoot(t), ".cache", "node-ws", "node_modules", "ws")
	_, statErr := os.Stat(filepath.Join(module, "package.json"))
	computemwtest.Require(t, err == nil && statErr == nil, "node and the npm package ws are needed: run make setup")
	return node, module
}

// TestNodeWebSocketClient drives the WebSocket protocol of every adapter,
// over real local sandboxes, with the Node.js client ws: output lines
// arrive as separate messages in order while the command runs, the exit
// code follows, stdin reaches a program that waits for it, the server's
// pings are standard frames the client answers, and once the client has
// closed the kit holds no sandbox.
func TestNodeWebSocketClient(t *testing.T) {
	node, module := nodeWS(t)
	script := filepath.Join(t.TempDir(), "client.cjs")
	if err := os.WriteFile(script, []byte(nodeClient), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, a := range adapters {
		t.Run(a.Name, func(t *testing.T) {
			kit := localKit(t, computemw.Config{WebSocket: computemw.WSConfig{PingInterval: 100 * time.Millisecond}})
			base := a.Start(t, kit)
			job, _ := json.Marshal(map[string]any{
				"url":       "ws" + strings.TrimPrefix(base, "http") + computemwtest.Prefix + "/ws",
				"command":   "for i in 1 2 3 4 5; do echo line-$i; read x; done",
				"python":    "print('ready', flush=True)\nline = input()\nprint('echo: ' + line)",
				"prompt":    "ready\n",
				"stdin":     "hello from node\n",
				"timeoutMs": 30000,
			})
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			t.Cleanup(cancel)
			cmd := exec.CommandContext(ctx, node, script, string(job))
			cmd.Env = append(os.Environ(), "WS_MODULE="+module)
			cmd.WaitDelay = 5 * time.Second
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			var s nodeSummary
			if jerr := json.Unmarshal(out, &s); jerr != nil {
				t.Fatalf("node client: %v, output %q (%v)\n%s", err, out, jerr, stderr.String())
			}
			if err != nil || s.Error != "" {
				t.Fatalf("node client: %v: %s\n%s", err, s.Error, stderr.String())
			}

			if !strings.HasPrefix(s.SandboxID, "sb") {
				t.Errorf("sandbox-ready: sandboxId %q", s.SandboxID)
			}
			if len(s.Lines) != 5 {
				t.Fatalf("want 5 output messages, one per line; got %+v", s.Lines)
			}
			for i, l := range s.Lines {
				if want := "line-" + string(rune('1'+i)) + "\n"; l.Stream != "stdout" || l.Data != want {
					t.Errorf("message %d: %+v, want stdout %q", i, l, want)
				}
			}
			if s.FirstExitCode == nil || *s.FirstExitCode != 0 {
				t.Errorf("execution-complete of the command: %v", s.FirstExitCode)
			}
			if s.StdinOutput != "ready\necho: hello from node\n" {
				t.Errorf("stdin program output %q", s.StdinOutput)
			}
			if s.SecondExitCode == nil || *s.SecondExitCode != 0 {
				t.Errorf("execution-complete of the stdin program: %v", s.SecondExitCode)
			}
			if s.Pings == 0 {
				t.Error("the client saw no ping frame with PingInterval 100ms")
			}
			if s.CloseCode == nil || *s.CloseCode != 1000 {
				t.Errorf("close code %v", s.CloseCode)
			}
			waitFor(t, func() bool { return kit.Stats().Live == 0 })
		})
	}
}
