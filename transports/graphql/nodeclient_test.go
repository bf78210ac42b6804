package graphql_test

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
	"github.com/computemw/kit/transports/graphql"
)

// nodeClient subscribes with the npm package graphql-ws — the reference
// client of the graphql-transport-ws protocol — over the npm package ws.
// Its argument is a JSON job; it prints one JSON summary line: the
// subscription's events and errors, and the close code and reason when
// the server closed the connection.
const nodeClient = `'use strict';
const WebSocket = require('ws');
const { createClient } = require('graphql-ws');
const job = JSON.parse(process.argv[2]);
const out = { events: [], errors: [], closeCode: null, closeReason: '', error: '' };
let finished = false;
const client = createClient({
  url: job.url,
  webSocketImpl: WebSocket,
  connectionParams: job.connectionParams,
  retryAttempts: 0,
  lazy: true,
  on: { closed: (ev) => { if (ev && ev.code && ev.code !== 1000) { out.closeCode = ev.code; out.closeReason = ev.reason; } } },
});
const timer = setTimeout(() => { out.error = 'timed out'; finish(); }, job.timeoutMs);
function finish() {
  if (finished) return;
  finished = true;
  clearTimeout(timer);
  process.stdout.write(JSON.stringify(out) + '\n');
  client.dispose();
}
(async () => {
  try {
    for await (const result of client.iterate({ query: job.query, variables: job.variables })) {
      if (result.errors) out.errors.push(...result.errors);
      if (result.data && result.data.execution) out.events.push(Object.assign({ at: Date.now() }, result.data.execution));
    }
  } catch (err) {
    if (Array.isArray(err)) out.errors.push(...err);
    else if (err && typeof err.code === 'number') { out.closeCode = err.code; out.closeReason = err.reason; }
    else out.error = String((err && err.message) || err);
  }
  finish();
})();
`

// nodeSummary is what nodeClient prints.
type nodeSummary struct {
	Events []struct {
		Typename string `json:"__typename"`
		Stream   string `json:"stream"`
		Data     string `json:"data"`
		Output   string `json:"output"`
		ExitCode *int   `json:"exitCode"`
		At       int64  `json:"at"`
	} `json:"events"`
	Errors      []gqlError `json:"errors"`
	CloseCode   *int       `json:"closeCode"`
	CloseReason string     `json:"closeReason"`
	Error       string     `json:"error"`
}

// nodeGraphQLWS returns the node binary and the node_modules folder that
// scripts/setup-node-graphql.sh fills (make setup-test).
func nodeGraphQLWS(t *testing.T) (node, modules string) {
	t.Helper()
	node, err := exec.LookPath("node")
	modules = filepath.Join(moduleRoot(t), ".cache", "node-graphql", "node_modules")
	_, errGQL := os.Stat(filepath.Join(modules, "graphql-ws", "package.json"))
	_, errWS := os.Stat(filepath.Join(modules, "ws", "package.json"))
	computemwtest.Require(t, err == nil && errGQL == nil && errWS == nil,
		"node and the npm packages graphql-ws and ws are needed: run make setup-test")
	return node, modules
}

// runNode runs one job of nodeClient.
func runNode(t *testing.T, node, modules, script string, job map[string]any) nodeSummary {
	t.Helper()
	b, _ := json.Marshal(job)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, string(b))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
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
	return s
}

// TestNodeGraphQLWSClient drives the subscription with the npm graphql-ws
// client: credentials in connectionParams pass the kit's authentication,
// output chunks arrive in order and then the result, a kit error reaches
// the client as a GraphQL error with the kit's code, and a caller without
// credentials is closed with 4403 UNAUTHORIZED, creating nothing.
func TestNodeGraphQLWSClient(t *testing.T) {
	node, modules := nodeGraphQLWS(t)
	script := filepath.Join(t.TempDir(), "client.cjs")
	if err := os.WriteFile(script, []byte(nodeClient), 0o600); err != nil {
		t.Fatal(err)
	}
	kit, fake := computemwtest.PolicyKit(t, computemwtest.PolicyOptions{})
	base := serve(t, kit, graphql.Options{})
	url := "ws" + strings.TrimPrefix(base, "http") + "/graphql"
	tok := computemwtest.Token(t, computemwtest.PolicySecret, "nina", "user", "pro", nil)
	params := map[string]any{"Authorization": "Bearer " + tok}

	s := runNode(t, node, modules, script, map[string]any{"url": url, "connectionParams": params, "timeoutMs": 30000,
		"query": executionDoc, "variables": map[string]any{"command": "lines 3"}})
	if len(s.Errors) != 0 || s.CloseCode != nil || len(s.Events) != 4 {
		t.Fatalf("lines 3: %+v", s)
	}
	for i, e := range s.Events[:3] {
		if want := "line " + string(rune('1'+i)) + "\n"; e.Typename != "OutputChunk" || e.Stream != "STDOUT" || e.Data != want {
			t.Errorf("event %d: %+v, want %q", i, e, want)
		}
	}
	if last := s.Events[3]; last.Typename != "ExecutionResult" || last.Output != "line 1\nline 2\nline 3\n" || last.ExitCode == nil || *last.ExitCode != 0 {
		t.Errorf("result %+v", last)
	}

	s = runNode(t, node, modules, script, map[string]any{"url": url, "connectionParams": params, "timeoutMs": 30000,
		"query": executionDoc, "variables": map[string]any{"command": "sleep", "timeout": 100}})
	if len(s.Errors) != 1 || s.Errors[0].Code() != "TIMEOUT" {
		t.Errorf("timeout: %+v", s)
	}

	created := fake.Created()
	s = runNode(t, node, modules, script, map[string]any{"url": url, "timeoutMs": 30000,
		"query": executionDoc, "variables": map[string]any{"command": "echo no"}})
	if s.CloseCode == nil || *s.CloseCode != 4403 || !strings.HasPrefix(s.CloseReason, "UNAUTHORIZED:") || len(s.Events) != 0 {
		t.Errorf("no credentials: %+v", s)
	}
	if fake.Created() != created {
		t.Errorf("a refused caller created %d sandboxes", fake.Created()-created)
	}
	waitFor(t, "every sandbox destroyed", func() bool { return fake.Live() == 0 && kit.Stats().Live == 0 })
}
