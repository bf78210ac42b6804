// Package socketiotest drives the kit's Socket.IO endpoint with the
// official Node.js client, socket.io-client, for the tests of the
// transport and of the starters. The npm package is installed into
// .cache/node-socketio by scripts/setup-node-socketio.sh (make
// setup-test); without node or the package a test skips, and fails under
// CI=true.
package socketiotest

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw/computemwtest"
)

// nodeClient drives the Socket.IO protocol with the official npm client
// socket.io-client. Its job is JSON in $SIO_JOB; it prints one JSON summary
// line on stdout, and exits non-zero with summary.error set when anything
// goes other than the job expects. The flow: connect (job.auth in the
// handshake), execute-code without a session (an error event), start a
// session, run job.run with its output streamed, optionally type into the
// terminal, then disconnect.
const nodeClient = `'use strict';
const { io } = require(process.env.SIO_MODULE);
const job = JSON.parse(process.env.SIO_JOB);
const out = {connectError: null, noSession: null, sessionId: '', outputs: [], result: null,
  execError: null, terminal: '', order: [], transport: '', events: [], disconnect: '', error: ''};
let step = 'connect', done = false;
const socket = io(job.url, {path: job.path, auth: job.auth, transports: job.transports,
  reconnection: false, timeout: 10000, forceNew: true});
const timer = setTimeout(() => finish('timed out at step ' + step), job.timeoutMs);
function finish(err) {
  if (done) return;
  done = true;
  clearTimeout(timer);
  if (socket.io.engine && socket.io.engine.transport) out.transport = socket.io.engine.transport.name;
  if (err) { out.error = err; process.exitCode = 1; }
  socket.disconnect();
  // Exit once the summary is out: a transport's request still pending
  // (a refused polling handshake) must not keep the client running.
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit());
}
socket.on('connect_error', (e) => {
  out.connectError = {message: e.message, data: e.data || null};
  finish(job.expectRefusal ? '' : 'connect_error: ' + e.message);
});
socket.on('disconnect', (reason) => {
  out.disconnect = reason;
  if (job.expectDisconnect) finish('');
});
if (job.steps) {
  // Steps: emit each event, then wait for one of the events it awaits.
  let next = 0, waiting = null;
  const nextStep = () => {
    if (next >= job.steps.length) return finish(job.expectDisconnect ? 'still connected after the steps' : '');
    const s = job.steps[next++];
    step = 'step ' + next + ' ' + s.emit;
    waiting = s.await && s.await.length ? s.await : null;
    if ('payload' in s) socket.emit(s.emit, s.payload); else socket.emit(s.emit);
    if (!waiting) nextStep();
  };
  socket.onAny((event, payload) => {
    out.events.push({event, payload});
    if (waiting && waiting.includes(event)) { waiting = null; nextStep(); }
  });
  socket.on('connect', () => {
    if (job.expectRefusal) return finish('connected although the handshake should be refused');
    nextStep();
  });
} else {
  socket.on('connect', () => {
    if (job.expectRefusal) return finish('connected although the handshake should be refused');
    step = 'no-session';
    socket.emit('execute-code', job.run);
  });
  socket.on('error', (e) => {
    if (step === 'no-session') {
      out.noSession = e;
      step = 'start';
      // Wait for the upgrade to WebSocket when it is under way, so that the
      // rest of the flow runs on it.
      const start = () => socket.emit('start-session', job.start || {});
      if (socket.io.engine.transport.name === 'polling' && job.transports.includes('websocket')) {
        socket.io.engine.once('upgrade', start);
      } else {
        start();
      }
      return;
    }
    finish('error event ' + JSON.stringify(e));
  });
  socket.on('session-started', (m) => {
    out.sessionId = m.sandboxId;
    step = 'run';
    socket.emit('execute-code', job.run);
  });
  socket.on('execution-output', (m) => { out.outputs.push(m); out.order.push('output'); });
  socket.on('execution-result', (m) => {
    out.result = m;
    out.order.push('result');
    if (!job.terminal) return finish('');
    step = 'terminal';
    socket.emit('terminal-input', {data: job.terminal});
  });
  socket.on('execution-error', (m) => { out.execError = m; finish('execution-error ' + m.code + ': ' + m.message); });
  socket.on('terminal-output', (m) => {
    out.terminal += m.data;
    if (out.terminal.includes(job.terminalExpect)) finish('');
  });
}
`

// Job is what the client is asked to do: connect to URL at Path with
// Auth in the handshake (over Transports, polling then WebSocket by
// default), then the flow of nodeClient; ExpectRefusal expects a
// connect_error instead.
type Job struct {
	URL            string         `json:"url"`
	Path           string         `json:"path"`
	Auth           map[string]any `json:"auth"`
	Transports     []string       `json:"transports"`
	Start          map[string]any `json:"start,omitempty"`
	Run            map[string]any `json:"run"`
	Terminal       string         `json:"terminal,omitempty"`
	TerminalExpect string         `json:"terminalExpect,omitempty"`
	ExpectRefusal  bool           `json:"expectRefusal"`
	// Steps, when set, replace the flow: each emits an event (with
	// Payload when it has one) and waits for one of the events it
	// Awaits (none: the next step follows at once). Every event received
	// is in Summary.Events.
	Steps []Step `json:"steps,omitempty"`
	// ExpectDisconnect expects the server to disconnect the client.
	ExpectDisconnect bool `json:"expectDisconnect"`
	TimeoutMs        int  `json:"timeoutMs"`
}

// Step is one event of Job.Steps.
type Step struct {
	Emit    string   `json:"emit"`
	Payload any      `json:"payload,omitempty"`
	Await   []string `json:"await,omitempty"`
}

// Event is an event the client received.
type Event struct {
	Event   string         `json:"event"`
	Payload map[string]any `json:"payload"`
}

// Summary is what the client saw.
type Summary struct {
	ConnectError *struct {
		Message string            `json:"message"`
		Data    map[string]string `json:"data"`
	} `json:"connectError"`
	NoSession *struct {
		Message string `json:"message"`
		Code    string `json:"code"`
	} `json:"noSession"`
	SessionID string `json:"sessionId"`
	Outputs   []struct {
		ID     string `json:"id"`
		Stream string `json:"stream"`
		Data   string `json:"data"`
	} `json:"outputs"`
	Result *struct {
		ID            string `json:"id"`
		Output        string `json:"output"`
		Stderr        string `json:"stderr"`
		Success       bool   `json:"success"`
		ExitCode      int    `json:"exitCode"`
		ExecutionTime *int64 `json:"executionTime"`
		SandboxID     string `json:"sandboxId"`
	} `json:"result"`
	Terminal   string   `json:"terminal"`
	Order      []string `json:"order"`
	Transport  string   `json:"transport"`
	Events     []Event  `json:"events"`
	Disconnect string   `json:"disconnect"`
	Error      string   `json:"error"`
}

// moduleRoot walks up from the test's working directory to go.mod.
func moduleRoot(t testing.TB) string {
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

// node returns the node binary and the directory of the npm
// package socket.io-client that scripts/setup-node-socketio.sh installs
// (make setup-test); it skips the test (fails under CI=true) without them.
func node(t testing.TB) (bin, module string) {
	t.Helper()
	bin, err := exec.LookPath("node")
	computemwtest.Require(t, err == nil, "node is not installed (needed to drive Socket.IO with socket.io-client)")
	module = filepath.Join(moduleRoot(t), ".cache", "node-socketio", "node_modules", "socket.io-client")
	_, err = os.Stat(filepath.Join(module, "package.json"))
	computemwtest.Require(t, err == nil, "npm package socket.io-client missing: run make setup-test (scripts/setup-node-socketio.sh)")
	return bin, module
}

// Run runs the client with job and returns its summary; a non-zero
// exit fails the test with the client's own account.
func Run(t testing.TB, job Job) Summary {
	t.Helper()
	bin, module := node(t)
	if job.TimeoutMs == 0 {
		job.TimeoutMs = 20000
	}
	if job.Transports == nil {
		job.Transports = []string{"polling", "websocket"}
	}
	b, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-e", nodeClient)
	cmd.Env = append(os.Environ(), "SIO_MODULE="+module, "SIO_JOB="+string(b))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, runErr := cmd.Output()
	var sum Summary
	if err := json.Unmarshal(stdout, &sum); err != nil {
		t.Fatalf("node client: %v (%v)\nstdout: %s\nstderr: %s", runErr, err, stdout, stderr.String())
	}
	if runErr != nil || sum.Error != "" {
		t.Fatalf("node client failed: %v: %s\nstdout: %s\nstderr: %s", runErr, sum.Error, stdout, stderr.String())
	}
	return sum
}
