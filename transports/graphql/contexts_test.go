package graphql_test

import (
	"slices"
	"testing"

	"github.com/computemw/kit/transports/graphql"
)

// TestCodeContexts runs code contexts through GraphQL over real bwrap
// sandboxes: state kept between executions, the last expression's value
// as a main result, an exception as the result's error, and the stable
// codes of an unknown context and of a missing session.
func TestCodeContexts(t *testing.T) {
	kit := localKit(t)
	base := serve(t, kit, graphql.Options{})
	id := post(t, base, `mutation { createSession(language: "python") { sandboxId } }`, nil, nil).field(t, "createSession")["sandboxId"]
	r := post(t, base, `mutation C($id: ID!) { createContext(sandboxId: $id, language: "python") { id language } }`, map[string]any{"id": id}, nil)
	c := r.field(t, "createContext")
	if c["language"] != "python" {
		t.Fatalf("createContext: %s", r.Raw)
	}
	exec := func(code string) *gqlReply {
		t.Helper()
		return post(t, base, `mutation E($id: ID!, $ctx: ID!, $code: String!) { executeInContext(sandboxId: $id, contextId: $ctx, code: $code) {
			output exitCode results { isMainResult data { mimeType data } } error { name value traceback } } }`,
			map[string]any{"id": id, "ctx": c["id"], "code": code}, nil)
	}
	exec("x = 41")
	if r := exec("print(x + 1)\nx"); r.field(t, "executeInContext")["output"] != "42\n" {
		t.Fatalf("print(x + 1): %s", r.Raw)
	} else if res := r.field(t, "executeInContext")["results"].([]any); len(res) != 1 ||
		res[0].(map[string]any)["isMainResult"] != true ||
		res[0].(map[string]any)["data"].([]any)[0].(map[string]any)["data"] != "41" {
		t.Fatalf("last expression: %s", r.Raw)
	}
	if r := exec("1/0"); r.field(t, "executeInContext")["error"].(map[string]any)["name"] != "ZeroDivisionError" {
		t.Fatalf("exception: %s", r.Raw)
	}
	r = post(t, base, `mutation E($id: ID!) { executeInContext(sandboxId: $id, contextId: "ctx-nope", code: "1") { output } }`, map[string]any{"id": id}, nil)
	if !slices.Equal(r.codes(), []string{"NOT_FOUND"}) {
		t.Fatalf("unknown context: %s", r.Raw)
	}
	r = post(t, base, `query { contexts(sandboxId: "sb-nope") { id } }`, nil, nil)
	if !slices.Equal(r.codes(), []string{"NOT_FOUND"}) {
		t.Fatalf("unknown session: %s", r.Raw)
	}
	r = post(t, base, `mutation D($id: ID!, $ctx: ID!) { deleteContext(sandboxId: $id, contextId: $ctx) }`, map[string]any{"id": id, "ctx": c["id"]}, nil)
	if r.Data["deleteContext"] != true {
		t.Fatalf("deleteContext: %s", r.Raw)
	}
	if r = post(t, base, `mutation D($id: ID!) { destroySession(sandboxId: $id) }`, map[string]any{"id": id}, nil); r.Data["destroySession"] != true {
		t.Fatalf("destroySession: %s", r.Raw)
	}
}
