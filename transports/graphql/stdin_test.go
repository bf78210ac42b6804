package graphql_test

import (
	"net/http"
	"slices"
	"testing"

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
