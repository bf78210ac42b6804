package graphql_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/transports/graphql"
)

const openStdinDoc = `subscription Run($language: String, $code: String, $stdin: String) {
  execution(language: $language, code: $code, stdin: $stdin, openStdin: true) {
    __typename
    ... on ExecutionStarted { executionId }
    ... on OutputChunk { stream data }
    ... on ExecutionResult { output success exitCode sandboxId }
  }
}`

const (
	sendStdinDoc = `mutation S($id: ID!, $data: String!) { sendStdin(executionId: $id, data: $data) }`
	endStdinDoc  = `mutation E($id: ID!) { endStdin(executionId: $id) }`
)

// TestStreamedStdin runs, in a real bwrap sandbox, a Python program that
// reads its input to the end: the subscription with openStdin first
// names its execution; the caller's sendStdin pieces (the first on the
// subscription's own stdin) reach the program, another caller's is
// NOT_FOUND, a second execution with open input of the caller is over its
// cap, and after endStdin the program finishes and prints the reversed
// input. Then the finished execution's ID and an unknown one are
// NOT_FOUND, and nothing is left running.
func TestStreamedStdin(t *testing.T) {
	authn, err := auth.New(auth.Config{APIKeys: map[string]computemw.Principal{
		auth.HashAPIKey("key-alice"): {ID: "alice", Role: "user", Plan: "pro"},
		auth.HashAPIKey("key-bob"):   {ID: "bob", Role: "user", Plan: "pro"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	kit := localKit(t, authn)
	base := serve(t, kit, graphql.Options{MaxOpenStdinPerCaller: 1})
	alice := http.Header{"X-Api-Key": {"key-alice"}}
	bob := http.Header{"X-Api-Key": {"key-bob"}}

	cl, _, err := dialWS(t, base, nil, map[string]any{"X-API-Key": "key-alice"})
	if err != nil {
		t.Fatal(err)
	}
	cl.subscribe("1", openStdinDoc, map[string]any{"language": "python", "stdin": "olleh\n",
		"code": "import sys\nprint(sys.stdin.read()[::-1])"})
	started := cl.nextEvent("1")
	if started.Typename != "ExecutionStarted" || started.ExecutionID == "" {
		t.Fatalf("first event %+v, want ExecutionStarted with an executionId", started)
	}
	id := started.ExecutionID

	if r := post(t, base, sendStdinDoc, map[string]any{"id": id, "data": "dlrow"}, alice); r.Data["sendStdin"] != true {
		t.Fatalf("sendStdin: %s", r.Raw)
	}
	if r := post(t, base, sendStdinDoc, map[string]any{"id": id, "data": "intruder"}, bob); !slices.Equal(r.codes(), []string{"NOT_FOUND"}) {
		t.Errorf("another caller's sendStdin: %s, want NOT_FOUND", r.Raw)
	}
	if r := post(t, base, endStdinDoc, map[string]any{"id": id}, bob); !slices.Equal(r.codes(), []string{"NOT_FOUND"}) {
		t.Errorf("another caller's endStdin: %s, want NOT_FOUND", r.Raw)
	}
	cl.subscribe("2", openStdinDoc, map[string]any{"language": "python", "code": "print(1)"})
	if events, errs := cl.collect("2"); len(events) != 0 || len(errs) != 1 || errs[0].Code() != "RATE_LIMITED" {
		t.Errorf("a second execution with open input: events %+v errors %+v, want RATE_LIMITED", events, errs)
	}

	if r := post(t, base, endStdinDoc, map[string]any{"id": id}, alice); r.Data["endStdin"] != true {
		t.Fatalf("endStdin: %s", r.Raw)
	}
	events, errs := cl.collect("1")
	if len(errs) != 0 || len(events) == 0 {
		t.Fatalf("after endStdin: events %+v errors %+v", events, errs)
	}
	if last := events[len(events)-1]; last.Typename != "ExecutionResult" || last.Output != "world\nhello\n" || last.ExitCode != 0 {
		t.Errorf("result %+v, want the reversed input", last)
	}

	if r := post(t, base, sendStdinDoc, map[string]any{"id": id, "data": "late"}, alice); !slices.Equal(r.codes(), []string{"NOT_FOUND"}) {
		t.Errorf("sendStdin after the end: %s, want NOT_FOUND", r.Raw)
	}
	if r := post(t, base, endStdinDoc, map[string]any{"id": "0123"}, alice); !slices.Equal(r.codes(), []string{"NOT_FOUND"}) {
		t.Errorf("endStdin of an unknown execution: %s, want NOT_FOUND", r.Raw)
	}
	waitFor(t, "no live sandbox", func() bool { return kit.Stats().Live == 0 })
}

// nodeStdinClient runs an execution with openStdin with the npm package
// graphql-ws, on one connection: once the ExecutionStarted event names
// the execution, it sends each of job.inputs with sendStdin, then
// endStdin, as mutations on the same connection. It prints one JSON line:
// the subscription's events and errors, and the mutations' results.
const nodeStdinClient = `'use strict';
const WebSocket = require('ws');
const { createClient } = require('graphql-ws');
const job = JSON.parse(process.argv[2]);
const out = { events: [], errors: [], mutations: [], error: '' };
const client = createClient({ url: job.url, webSocketImpl: WebSocket, connectionParams: job.connectionParams,
  retryAttempts: 0, lazy: true });
const timer = setTimeout(() => { out.error = 'timed out'; finish(); }, job.timeoutMs);
let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  clearTimeout(timer);
  process.stdout.write(JSON.stringify(out) + '\n');
  client.dispose();
}
async function mutate(query, variables) {
  for await (const r of client.iterate({ query, variables })) return r;
}
(async () => {
  try {
    for await (const result of client.iterate({ query: job.query, variables: job.variables })) {
      if (result.errors) out.errors.push(...result.errors);
      const e = result.data && result.data.execution;
      if (!e) continue;
      out.events.push(e);
      if (e.__typename === 'ExecutionStarted') {
        for (const data of job.inputs) out.mutations.push(await mutate(job.send, { id: e.executionId, data }));
        out.mutations.push(await mutate(job.end, { id: e.executionId }));
      }
    }
  } catch (err) {
    out.error = String((err && (err.message || err.reason)) || JSON.stringify(err));
  }
  finish();
})();
`

// TestNodeGraphQLWSStreamedStdin feeds a real sandbox's program through
// the npm graphql-ws client, the subscription and its stdin mutations on
// one connection: the program reads its input to the end, and finishes
// after endStdin with the reversed input.
func TestNodeGraphQLWSStreamedStdin(t *testing.T) {
	node, modules := nodeGraphQLWS(t)
	script := filepath.Join(t.TempDir(), "stdin.cjs")
	if err := os.WriteFile(script, []byte(nodeStdinClient), 0o600); err != nil {
		t.Fatal(err)
	}
	kit := localKit(t)
	base := serve(t, kit, graphql.Options{})
	b, _ := json.Marshal(map[string]any{"url": "ws" + strings.TrimPrefix(base, "http") + "/graphql", "timeoutMs": 30000,
		"query": openStdinDoc, "variables": map[string]any{"language": "python", "code": "import sys\nprint(sys.stdin.read()[::-1])"},
		"inputs": []string{"olleh\n", "dl", "row"}, "send": sendStdinDoc, "end": endStdinDoc})
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, string(b))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	var s struct {
		Events    []event          `json:"events"`
		Errors    []gqlError       `json:"errors"`
		Mutations []map[string]any `json:"mutations"`
		Error     string           `json:"error"`
	}
	if jerr := json.Unmarshal(raw, &s); jerr != nil || err != nil || s.Error != "" {
		t.Fatalf("node client: %v %v %q: %s\n%s", err, jerr, s.Error, raw, stderr.String())
	}
	if len(s.Errors) != 0 || len(s.Events) < 2 || s.Events[0].Typename != "ExecutionStarted" {
		t.Fatalf("events %+v errors %+v", s.Events, s.Errors)
	}
	if len(s.Mutations) != 4 {
		t.Fatalf("mutations %+v", s.Mutations)
	}
	for i, m := range s.Mutations {
		data, _ := m["data"].(map[string]any)
		if m["errors"] != nil || (data["sendStdin"] != true && data["endStdin"] != true) {
			t.Errorf("mutation %d: %+v", i, m)
		}
	}
	if last := s.Events[len(s.Events)-1]; last.Typename != "ExecutionResult" || last.Output != "world\nhello\n" || last.ExitCode != 0 {
		t.Errorf("result %+v, want the reversed input", last)
	}
	waitFor(t, "no live sandbox", func() bool { return kit.Stats().Live == 0 })
}
