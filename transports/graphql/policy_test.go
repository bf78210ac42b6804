package graphql_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/transports/graphql"
)

const runDoc = `mutation { runCommand(command: "echo governed") { output } }`

// TestPolicies runs the kit's policies on GraphQL as on the HTTP routes:
// no or bad credentials are a 401 UNAUTHORIZED for the whole document
// (admitted before it is parsed, with the authenticator's challenge), a
// role without the permission or the provider a FORBIDDEN field, and no
// refused caller creates a sandbox; credentials of a JWT or an API key are
// served.
func TestPolicies(t *testing.T) {
	kit, fake := computemwtest.PolicyKit(t, computemwtest.PolicyOptions{})
	base := serve(t, kit, graphql.Options{})
	token := func(role string) http.Header {
		return bearer(computemwtest.Token(t, computemwtest.PolicySecret, "alice", role, "pro", nil))
	}
	for _, c := range []struct {
		name   string
		query  string
		header http.Header
		status int
		code   string
	}{
		{"no credentials", runDoc, nil, 401, "UNAUTHORIZED"},
		{"bad token", runDoc, bearer("not-a-token"), 401, "UNAUTHORIZED"},
		{"wrong key", runDoc, http.Header{"X-Api-Key": {"cmw_wrong"}}, 401, "UNAUTHORIZED"},
		{"viewer runs code", runDoc, token("viewer"), 200, "FORBIDDEN"},
		{"viewer reads files", `{ readFile(path: "a") { content } }`, token("viewer"), 200, "FORBIDDEN"},
		{"viewer creates a session", `mutation { createSession { sandboxId } }`, token("viewer"), 200, "FORBIDDEN"},
		{"provider not allowed", runDoc, token("local-only"), 200, "FORBIDDEN"},
		{"no credentials for a session", `mutation { createSession { sandboxId } }`, nil, 401, "UNAUTHORIZED"},
		{"no credentials for introspection", `{ __schema { queryType { name } } }`, nil, 401, "UNAUTHORIZED"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := post(t, base, c.query, nil, c.header)
			if r.Status != c.status || !slices.Equal(r.codes(), []string{c.code}) {
				t.Errorf("%d %s, want %d %s", r.Status, r.Raw, c.status, c.code)
			}
			if c.status == 401 && r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without a challenge: %v", r.Header)
			}
		})
	}
	if fake.Created() != 0 {
		t.Fatalf("refused callers created %d sandboxes", fake.Created())
	}

	r := post(t, base, runDoc, nil, token("user"))
	if res := r.field(t, "runCommand"); res["output"] != "governed\n" {
		t.Errorf("user with a JWT: %s", r.Raw)
	}
	r = post(t, base, runDoc, nil, http.Header{"X-Api-Key": {computemwtest.PolicyAPIKey}})
	if res := r.field(t, "runCommand"); res["output"] != "governed\n" {
		t.Errorf("API key: %s", r.Raw)
	}

	// Another principal's session does not exist for this one.
	id := post(t, base, `mutation { createSession { sandboxId } }`, nil, token("user")).field(t, "createSession")["sandboxId"]
	r = post(t, base, `query R($id: ID) { listFiles(path: ".", sandboxId: $id) { name } }`, map[string]any{"id": id},
		http.Header{"X-Api-Key": {computemwtest.PolicyAPIKey}})
	if !slices.Equal(r.codes(), []string{"NOT_FOUND"}) {
		t.Errorf("another principal's session: %s", r.Raw)
	}
}

// TestRateLimitsAndQuotas: the document is a request for the rate
// limiter, and each field one more of its own, for the rate limiter and
// the quota, so one document cannot hide many executions.
func TestRateLimitsAndQuotas(t *testing.T) {
	t.Run("rate limit", func(t *testing.T) {
		// A limit of 3: the document, a and b.
		kit, fake := computemwtest.PolicyKit(t, computemwtest.PolicyOptions{RateLimit: 3})
		base := serve(t, kit, graphql.Options{})
		key := http.Header{"X-Api-Key": {computemwtest.PolicyAPIKey}}
		r := post(t, base, `mutation {
		  a: runCommand(command: "echo 1") { output }
		  b: runCommand(command: "echo 2") { output }
		  c: runCommand(command: "echo 3") { output }
		}`, nil, key)
		if r.Data["a"] == nil || r.Data["b"] == nil || !slices.Equal(r.codes(), []string{"RATE_LIMITED"}) {
			t.Fatalf("a document of three fields against a limit of 3: %s", r.Raw)
		}
		if ra, _ := r.Errors[0].Extensions["retryAfter"].(float64); ra < 1 {
			t.Errorf("RATE_LIMITED without retryAfter: %s", r.Raw)
		}
		if fake.Created() != 2 {
			t.Errorf("created %d sandboxes, want 2", fake.Created())
		}
	})
	t.Run("quota", func(t *testing.T) {
		kit, fake := computemwtest.PolicyKit(t, computemwtest.PolicyOptions{Executions: 1})
		base := serve(t, kit, graphql.Options{})
		key := http.Header{"X-Api-Key": {computemwtest.PolicyAPIKey}}
		r := post(t, base, `mutation {
		  a: executeCode(code: "echo 1", language: "python") { output }
		  b: executeCode(code: "echo 2", language: "python") { output }
		}`, nil, key)
		if r.Data["a"] == nil || !slices.Equal(r.codes(), []string{"QUOTA_EXCEEDED"}) {
			t.Fatalf("two executions against a quota of 1: %s", r.Raw)
		}
		if fake.Created() != 1 {
			t.Errorf("created %d sandboxes, want 1", fake.Created())
		}
	})
}

// TestSubscriptionPolicies admits WebSocket callers with credentials from
// the upgrade's headers or the connection_init payload; a refused one is
// closed with 4403 and the kit's code, and creates nothing.
func TestSubscriptionPolicies(t *testing.T) {
	kit, fake := computemwtest.PolicyKit(t, computemwtest.PolicyOptions{})
	base := serve(t, kit, graphql.Options{})
	tok := computemwtest.Token(t, computemwtest.PolicySecret, "bob", "user", "pro", nil)
	viewer := computemwtest.Token(t, computemwtest.PolicySecret, "vic", "viewer", "pro", nil)

	for _, c := range []struct {
		name    string
		header  http.Header
		payload map[string]any
		code    string
	}{
		{"no credentials", nil, nil, "UNAUTHORIZED"},
		{"bad token in the payload", nil, map[string]any{"Authorization": "Bearer nope"}, "UNAUTHORIZED"},
		{"a payload cannot pose as a proxy", nil, map[string]any{"X-Forwarded-For": "10.0.0.1"}, "UNAUTHORIZED"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := dialWS(t, base, c.header, c.payload); closeReason(err) != c.code {
				t.Errorf("connection_init: %v, want a 4403 close with %s", err, c.code)
			}
		})
	}
	for _, c := range []struct {
		name    string
		header  http.Header
		payload map[string]any
	}{
		{"token in the upgrade's header", bearer(tok), nil},
		{"token in the payload", nil, map[string]any{"authorization": "Bearer " + tok}},
		{"API key in the payload's headers", nil, map[string]any{"headers": map[string]any{"X-API-Key": computemwtest.PolicyAPIKey}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl, _, err := dialWS(t, base, c.header, c.payload)
			if err != nil {
				t.Fatal(err)
			}
			cl.subscribe("1", executionDoc, map[string]any{"command": "echo ok"})
			if events, errs := cl.collect("1"); len(errs) != 0 || len(events) != 2 || events[1].Output != "ok\n" {
				t.Errorf("events %+v errors %+v", events, errs)
			}
		})
	}
	created := fake.Created()
	cl, _, err := dialWS(t, base, nil, map[string]any{"Authorization": "Bearer " + viewer})
	if err != nil {
		t.Fatal(err)
	}
	cl.subscribe("1", executionDoc, map[string]any{"command": "echo no"})
	if _, errs := cl.collect("1"); len(errs) != 1 || errs[0].Code() != "FORBIDDEN" {
		t.Errorf("viewer's subscription: %+v", errs)
	}
	if fake.Created() != created {
		t.Errorf("refused callers created %d sandboxes", fake.Created()-created)
	}
}

// TestGovernedExecutions checks that every execution through GraphQL —
// a mutation and a subscription — is admitted, held to the caller's role,
// counted in the metrics, logged once and charged to the quota, exactly
// once; and that a refused caller runs and is charged nothing.
func TestGovernedExecutions(t *testing.T) {
	g := computemwtest.GovernedKit(t)
	base := serve(t, g.Kit, graphql.Options{})

	before := g.Snapshot(t)
	r := post(t, base, `mutation { runCommand(command: "echo counted", timeout: 60000) { output } }`, nil, g.Credentials())
	if res := r.field(t, "runCommand"); res["output"] != "counted\n" {
		t.Fatalf("runCommand: %s", r.Raw)
	}
	g.CheckOneExecution(t, before, "success")

	before = g.Snapshot(t)
	r = post(t, base, `mutation { runCommand(command: "sleep", timeout: 60000) { output } }`, nil, g.Credentials())
	if !slices.Equal(r.codes(), []string{"TIMEOUT"}) {
		t.Fatalf("a run past the role's limit: %s", r.Raw)
	}
	g.CheckOneExecution(t, before, "timeout")

	before = g.Snapshot(t)
	cl, _, err := dialWS(t, base, nil, map[string]any{"X-API-Key": computemwtest.GovernedAPIKey})
	if err != nil {
		t.Fatal(err)
	}
	cl.subscribe("1", executionDoc, map[string]any{"command": "lines 2", "timeout": 60000})
	if events, errs := cl.collect("1"); len(errs) != 0 || len(events) != 3 {
		t.Fatalf("subscription: events %+v errors %+v", events, errs)
	}
	g.CheckOneExecution(t, before, "success")

	before = g.Snapshot(t)
	for _, doc := range []string{
		`mutation { runCommand(command: "echo no") { output } }`,
		`mutation { createSession { sandboxId } }`,
		`mutation { writeFile(path: "a", content: "b") }`,
	} {
		if r := post(t, base, doc, nil, nil); !slices.Equal(r.codes(), []string{"UNAUTHORIZED"}) {
			t.Errorf("%s without credentials: %s", doc, r.Raw)
		}
	}
	g.CheckNothing(t, before)

}
