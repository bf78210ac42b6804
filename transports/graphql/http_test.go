package graphql_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/transports/graphql"
)

const executeDoc = `mutation Run($code: String!, $language: String!, $timeout: Int) {
  executeCode(code: $code, language: $language, timeout: $timeout) {
    output stderr executionTime success exitCode sandboxId provider truncated
  }
}`

// TestExecuteCodeAndRunCommand sends real documents with variables: a
// program and a command run, each in a sandbox of its own destroyed after
// the field, and a non-zero exit is a result, not an error.
func TestExecuteCodeAndRunCommand(t *testing.T) {
	kit, fake := computemwtest.SuiteKit(t, computemw.Config{})
	base := serve(t, kit, graphql.Options{})

	r := post(t, base, executeDoc, map[string]any{"code": "echo hello from graphql", "language": "python"}, nil)
	if r.Status != 200 || len(r.Errors) != 0 {
		t.Fatalf("executeCode: %d %s", r.Status, r.Raw)
	}
	res := r.field(t, "executeCode")
	if res["output"] != "hello from graphql\n" || res["success"] != true || res["exitCode"] != 0.0 ||
		res["provider"] != "fake" || !strings.HasPrefix(res["sandboxId"].(string), "fake-") {
		t.Errorf("executeCode result %v", res)
	}

	r = post(t, base, `mutation { runCommand(command: "exit 3") { success exitCode output } }`, nil, nil)
	if res := r.field(t, "runCommand"); len(r.Errors) != 0 || res["success"] != false || res["exitCode"] != 3.0 {
		t.Errorf("runCommand exit 3: %s", r.Raw)
	}
	r = post(t, base, `mutation { runCommand(command: "stderr oops") { stderr success } }`, nil, nil)
	if res := r.field(t, "runCommand"); res["stderr"] != "oops\n" || res["success"] != true {
		t.Errorf("runCommand stderr: %s", r.Raw)
	}
	if fake.Created() != 3 {
		t.Errorf("created %d sandboxes for 3 fields, want 3", fake.Created())
	}
	waitFor(t, "every field's sandbox destroyed", func() bool { return fake.Live() == 0 && kit.Stats().Live == 0 })

	// The route group's /metrics counts what GraphQL ran.
	m := metricsText(t, base)
	for _, line := range []string{
		`compute_executions_total{language="python",provider="fake",status="success"} 1`,
		`compute_executions_total{language="command",provider="fake",status="success"} 1`,
		`compute_executions_total{language="command",provider="fake",status="failure"} 1`,
	} {
		if !slices.Contains(strings.Split(m, "\n"), line) {
			t.Errorf("/api/metrics lacks %s", line)
		}
	}
}

// TestSessionKeepsFiles creates a session, writes a file in it, reads and
// lists it in later documents, then destroys the session: the file lived
// as long as the session, and a file written without a session did not
// outlive its field.
func TestSessionKeepsFiles(t *testing.T) {
	kit, fake := computemwtest.SuiteKit(t, computemw.Config{})
	base := serve(t, kit, graphql.Options{})

	r := post(t, base, `mutation { createSession(ttl: 60000) { sandboxId provider status createdAt expiresAt } }`, nil, nil)
	s := r.field(t, "createSession")
	id, _ := s["sandboxId"].(string)
	if id == "" || s["provider"] != "fake" || s["status"] != "running" || s["expiresAt"] == s["createdAt"] {
		t.Fatalf("createSession: %s", r.Raw)
	}
	vars := map[string]any{"id": id}
	r = post(t, base, `mutation W($id: ID) { writeFile(path: "notes/a.txt", content: "kept é", sandboxId: $id) }`, vars, nil)
	if r.Data["writeFile"] != true || len(r.Errors) != 0 {
		t.Fatalf("writeFile: %s", r.Raw)
	}
	r = post(t, base, `query R($id: ID) {
	  readFile(path: "notes/a.txt", sandboxId: $id) { path content encoding size }
	  listFiles(path: "notes", sandboxId: $id) { name path type size }
	}`, vars, nil)
	if f := r.field(t, "readFile"); f["content"] != "kept é" || f["encoding"] != "utf8" || f["size"] != 7.0 || f["path"] != "notes/a.txt" {
		t.Errorf("readFile in the session: %s", r.Raw)
	}
	list, _ := r.Data["listFiles"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["name"] != "a.txt" || list[0].(map[string]any)["type"] != "file" {
		t.Errorf("listFiles in the session: %s", r.Raw)
	}
	r = post(t, base, `mutation R($id: ID) { executeCode(code: "echo in session", language: "python", sandboxId: $id) { sandboxId output } }`, vars, nil)
	if res := r.field(t, "executeCode"); res["sandboxId"] != id || res["output"] != "in session\n" {
		t.Errorf("executeCode in the session: %s", r.Raw)
	}
	if fake.Created() != 1 {
		t.Errorf("created %d sandboxes, want only the session's", fake.Created())
	}

	// Without a session the file dies with the field's own sandbox.
	post(t, base, `mutation { writeFile(path: "b.txt", content: "lost") }`, nil, nil)
	r = post(t, base, `{ readFile(path: "b.txt") { content } }`, nil, nil)
	if got := r.codes(); !slices.Equal(got, []string{"NOT_FOUND"}) {
		t.Errorf("read without a session: %v %s", got, r.Raw)
	}

	r = post(t, base, `mutation D($id: ID!) { destroySession(sandboxId: $id) }`, vars, nil)
	if r.Data["destroySession"] != true {
		t.Fatalf("destroySession: %s", r.Raw)
	}
	r = post(t, base, `query R($id: ID) { readFile(path: "notes/a.txt", sandboxId: $id) { content } }`, vars, nil)
	if got := r.codes(); !slices.Equal(got, []string{"NOT_FOUND"}) || r.Status != 200 {
		t.Errorf("read in a destroyed session: %d %v", r.Status, got)
	}
	r = post(t, base, `mutation D($id: ID!) { destroySession(sandboxId: $id) }`, vars, nil)
	if got := r.codes(); !slices.Equal(got, []string{"NOT_FOUND"}) {
		t.Errorf("second destroySession: %v", got)
	}
	waitFor(t, "every sandbox destroyed", func() bool { return fake.Live() == 0 })
}

// TestInvalidDocuments sends malformed requests and documents: each is a
// GraphQL error with a stable code and a 4xx (or 200 for a field's own
// error), never a 500, and none creates a sandbox.
func TestInvalidDocuments(t *testing.T) {
	kit, fake := computemwtest.SuiteKit(t, computemw.Config{MaxBodyBytes: 4096})
	base := serve(t, kit, graphql.Options{MaxComplexity: 120, OperationCost: 50})

	for _, c := range []struct {
		name   string
		query  string
		vars   map[string]any
		status int
		code   string
	}{
		{"syntax", `mutation { executeCode(code: "x" `, nil, 422, "BAD_REQUEST"},
		{"unknown field", `{ nope }`, nil, 422, "BAD_REQUEST"},
		{"missing argument", `mutation { executeCode(code: "echo x") { output } }`, nil, 422, "BAD_REQUEST"},
		{"no selection", `mutation { executeCode(code: "echo x", language: "python") }`, nil, 422, "BAD_REQUEST"},
		{"variable of a wrong type", executeDoc, map[string]any{"code": "echo x", "language": "python", "timeout": "soon"}, 422, "BAD_REQUEST"},
		{"missing variable", executeDoc, map[string]any{"code": "echo x"}, 422, "BAD_REQUEST"},
		{"too complex", `mutation { a: runCommand(command: "true") { output } b: runCommand(command: "true") { output } c: runCommand(command: "true") { output } }`, nil, 200, "BAD_REQUEST"},
		{"empty code", executeDoc, map[string]any{"code": "", "language": "python"}, 200, "BAD_REQUEST"},
		{"empty command", `mutation { runCommand(command: " ") { output } }`, nil, 200, "BAD_REQUEST"},
		{"negative timeout", executeDoc, map[string]any{"code": "echo x", "language": "python", "timeout": -1}, 200, "BAD_REQUEST"},
		{"timeout above the maximum", executeDoc, map[string]any{"code": "echo x", "language": "python", "timeout": 1 << 30}, 200, "BAD_REQUEST"},
		{"subscription over POST", `subscription { execution(command: "echo x") { __typename } }`, nil, 200, "BAD_REQUEST"},
		{"unknown session", `{ listFiles(path: ".", sandboxId: "nope") { name } }`, nil, 200, "NOT_FOUND"},
		{"session wait above the queue timeout", `mutation { createSession(wait: 99999999) { sandboxId } }`, nil, 200, "BAD_REQUEST"},
		{"negative session TTL", `mutation { createSession(ttl: -1) { sandboxId } }`, nil, 200, "BAD_REQUEST"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := post(t, base, c.query, c.vars, nil)
			if r.Status != c.status || len(r.Errors) == 0 || r.Errors[0].Code() != c.code {
				t.Errorf("%d %s, want %d %s", r.Status, r.Raw, c.status, c.code)
			}
		})
	}

	for _, c := range []struct {
		name, method, ctype string
		body                []byte
		status              int
		code                string
	}{
		{"malformed JSON", http.MethodPost, "application/json", []byte(`{"query": `), 400, "BAD_REQUEST"},
		{"not an object", http.MethodPost, "application/json", []byte(`["{ x }"]`), 400, "BAD_REQUEST"},
		{"empty body", http.MethodPost, "application/json", nil, 400, "BAD_REQUEST"},
		{"form body", http.MethodPost, "application/x-www-form-urlencoded", []byte(`query=%7Bx%7D`), 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"oversized body", http.MethodPost, "application/json", []byte(`{"query":"` + strings.Repeat(" ", 5000) + `{ x }"}`), 413, "PAYLOAD_TOO_LARGE"},
		{"GET", http.MethodGet, "", nil, 405, "METHOD_NOT_ALLOWED"},
		{"PUT", http.MethodPut, "application/json", []byte(`{}`), 405, "METHOD_NOT_ALLOWED"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, c.method, base+"/graphql", c.ctype, c.body, nil)
			if r.Status != c.status || len(r.Errors) != 1 || r.Errors[0].Code() != c.code {
				t.Errorf("%d %s, want %d %s", r.Status, r.Raw, c.status, c.code)
			}
		})
	}
	r := postRaw(t, base, "application/json", []byte(`{"query":"{ __typename }"}`), http.Header{"Content-Encoding": {"gzip"}})
	if r.Status != 415 || r.Errors[0].Code() != "UNSUPPORTED_MEDIA_TYPE" {
		t.Errorf("compressed body: %d %s", r.Status, r.Raw)
	}
	if fake.Created() != 0 {
		t.Errorf("invalid documents created %d sandboxes", fake.Created())
	}
}

// TestKitErrors checks that the kit's errors reach the client with their
// codes: a timeout with the output so far, a resource limit, an unknown
// language, and an internal failure whose detail stays in the log.
func TestKitErrors(t *testing.T) {
	kit, fake := computemwtest.SuiteKit(t, computemw.Config{})
	base := serve(t, kit, graphql.Options{})
	run := func(code string, timeout any, lang string) *gqlReply {
		return post(t, base, executeDoc, map[string]any{"code": code, "language": lang, "timeout": timeout}, nil)
	}
	r := run("sleep", 100, "python")
	if got := r.codes(); !slices.Equal(got, []string{"TIMEOUT"}) || r.Status != 200 {
		t.Fatalf("timeout: %d %s", r.Status, r.Raw)
	}
	if d, _ := r.Errors[0].Extensions["details"].(map[string]any); d["output"] != "started\n" {
		t.Errorf("timeout details: %s", r.Raw)
	}
	if id, _ := r.Errors[0].Extensions["requestId"].(string); id == "" {
		t.Errorf("timeout error has no requestId: %s", r.Raw)
	}
	if p := r.Errors[0].Path; len(p) != 1 || p[0] != "executeCode" {
		t.Errorf("error path %v", p)
	}
	if r = run("oom", nil, "python"); !slices.Equal(r.codes(), []string{"RESOURCE_ERROR"}) {
		t.Errorf("oom: %s", r.Raw)
	}
	if r = run("echo x", nil, "cobol"); !slices.Equal(r.codes(), []string{"EXECUTION_ERROR"}) {
		t.Errorf("unknown language: %s", r.Raw)
	}
	if r = post(t, base, `{ readFile(path: "../../etc/passwd") { content } }`, nil, nil); !slices.Equal(r.codes(), []string{"BAD_REQUEST"}) {
		t.Errorf("path out of the workspace: %s", r.Raw)
	}
	for _, code := range []string{"fail", "panic"} {
		r = run(code, nil, "python")
		if !slices.Equal(r.codes(), []string{"INTERNAL_ERROR"}) || r.Errors[0].Message != computemw.ErrInternal.Message || r.Status != 200 {
			t.Errorf("%s: %d %s", code, r.Status, r.Raw)
		}
	}
	waitFor(t, "every sandbox destroyed", func() bool { return fake.Live() == 0 })
}

// TestStrictExitCode: with Config.StrictExitCode a non-zero exit is an
// EXECUTION_ERROR, as on the HTTP routes.
func TestStrictExitCode(t *testing.T) {
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{StrictExitCode: true})
	base := serve(t, kit, graphql.Options{})
	r := post(t, base, `mutation { runCommand(command: "exit 2") { exitCode } }`, nil, nil)
	if !slices.Equal(r.codes(), []string{"EXECUTION_ERROR"}) {
		t.Errorf("strict exit: %s", r.Raw)
	}
}

// TestHostsAndCORS: a host the kit does not serve is refused before any
// document runs; a preflight from an allowed origin is answered by the
// kit's CORS rule.
func TestHostsAndCORS(t *testing.T) {
	kit, fake := computemwtest.SuiteKit(t, computemw.Config{AllowedHosts: []string{"app.example"},
		AllowedOrigins: []string{"https://front.example"}})
	base := serve(t, kit, graphql.Options{})
	r := post(t, base, `mutation { runCommand(command: "echo x") { output } }`, nil, nil)
	if r.Status != 403 || r.Errors[0].Code() != "FORBIDDEN" {
		t.Errorf("unserved host: %d %s", r.Status, r.Raw)
	}
	if fake.Created() != 0 {
		t.Errorf("a refused host created %d sandboxes", fake.Created())
	}
	r = post(t, base, `mutation { runCommand(command: "echo x") { output } }`, nil, http.Header{"Host": {"app.example"}})
	if res := r.field(t, "runCommand"); res["output"] != "x\n" {
		t.Errorf("served host: %s", r.Raw)
	}
	req, _ := http.NewRequest(http.MethodOptions, base+"/graphql", nil)
	req.Header.Set("Origin", "https://front.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://front.example" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

// introspectionDoc asks for the whole schema, as GraphQL tools do.
const introspectionDoc = `query Schema {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types {
      kind name description
      fields(includeDeprecated: true) {
        name description isDeprecated deprecationReason
        args { name description defaultValue type { ...Ref } }
        type { ...Ref }
      }
      inputFields { name description defaultValue type { ...Ref } }
      interfaces { ...Ref }
      enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
      possibleTypes { ...Ref }
    }
    directives { name description locations args { name description defaultValue type { ...Ref } } }
  }
}
fragment Ref on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }`

// graphiqlIntrospection is the introspection query of GraphiQL (and
// graphql-js's getIntrospectionQuery): 150 tokens.
const graphiqlIntrospection = `query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives {
      name
      description
      locations
      args { ...InputValue }
    }
  }
}
fragment FullType on __Type {
  kind
  name
  description
  fields(includeDeprecated: true) {
    name
    description
    args { ...InputValue }
    type { ...TypeRef }
    isDeprecated
    deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) {
    name
    description
    isDeprecated
    deprecationReason
  }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue {
  name
  description
  type { ...TypeRef }
  defaultValue
}
fragment TypeRef on __Type {
  kind
  name
  ofType {
    kind
    name
    ofType {
      kind
      name
      ofType {
        kind
        name
        ofType {
          kind
          name
          ofType {
            kind
            name
            ofType {
              kind
              name
              ofType {
                kind
                name
              }
            }
          }
        }
      }
    }
  }
}`

// TestIntrospection: tools can read the schema within the default token
// and complexity limits (introspection fields count), and
// DisableIntrospection refuses them. (Callers the kit does not admit are
// refused before: see TestPolicies.)
func TestIntrospection(t *testing.T) {
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{})
	base := serve(t, kit, graphql.Options{})
	for _, doc := range []string{introspectionDoc, graphiqlIntrospection} {
		r := post(t, base, doc, nil, nil)
		if len(r.Errors) != 0 || !strings.Contains(r.Raw, `"name":"executeCode"`) || !strings.Contains(r.Raw, `"name":"OutputChunk"`) {
			t.Errorf("introspection: %d %.300s", r.Status, r.Raw)
		}
	}
	closed := serve(t, kit, graphql.Options{DisableIntrospection: true})
	if r := post(t, closed, introspectionDoc, nil, nil); len(r.Errors) == 0 || r.Errors[0].Code() != "BAD_REQUEST" || r.Status == 500 {
		t.Errorf("introspection disabled: %d %.300s", r.Status, r.Raw)
	}
}

// TestSessionLimits: the caller's session limit holds over GraphQL, and a
// createSession that may wait gets the slot its caller frees.
func TestSessionLimits(t *testing.T) {
	kit, fake := computemwtest.SuiteKit(t, computemw.Config{MaxSessionsPerPrincipal: 1})
	base := serve(t, kit, graphql.Options{})
	const create = `mutation C($wait: Int) { createSession(wait: $wait) { sandboxId } }`
	id := post(t, base, create, nil, nil).field(t, "createSession")["sandboxId"]
	r := post(t, base, create, nil, nil)
	if !slices.Equal(r.codes(), []string{"RATE_LIMITED"}) || r.Errors[0].Extensions["retryAfter"] == nil {
		t.Fatalf("second session over a limit of 1: %s", r.Raw)
	}
	waited := make(chan *gqlReply, 1)
	go func() { waited <- post(t, base, create, map[string]any{"wait": 10000}, nil) }()
	if r := post(t, base, `mutation D($id: ID!) { destroySession(sandboxId: $id) }`, map[string]any{"id": id}, nil); r.Data["destroySession"] != true {
		t.Fatalf("destroySession: %s", r.Raw)
	}
	if r := <-waited; r.field(t, "createSession")["sandboxId"] == "" {
		t.Errorf("waiting createSession: %s", r.Raw)
	}
	if fake.Created() != 2 {
		t.Errorf("created %d sandboxes, want 2", fake.Created())
	}
}
