package adapters_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/computemw/rbac"
)

// asRole is a policy that admits every caller as a principal of one role,
// for RBAC to judge.
type asRole string

func (r asRole) Admit(ctx context.Context, _ computemw.Op, _ *computemw.Request) (context.Context, error) {
	return computemw.WithPrincipal(ctx, computemw.Principal{ID: "caller", Role: string(r)}), nil
}

func (asRole) Authorize(context.Context, *computemw.Action) error { return nil }

// neverCompiles is a C++ program whose compile-time evaluation takes
// billions of steps: no machine compiles it within a second.
const neverCompiles = `constexpr long spin() {
	long n = 0;
	for (long i = 0; i < 200000; ++i)
		for (long j = 0; j < 200000; ++j)
			n += i ^ j;
	return n;
}
constexpr long v = spin();
int main() { return v == 0; }
`

// Over HTTP a request chooses compile options, merges stderr into output,
// gives the compile a limit of its own (held to the role's maximum), and
// is answered 400 for a version, an option or a limit it may not have.
func TestExecuteCompileOptionsOverHTTP(t *testing.T) {
	kit := localKit(t, computemw.Config{MaxTimeout: time.Minute})
	base := adapters[0].Start(t, kit)
	if !slices.Contains(kit.Languages("local"), "cpp") || !slices.Contains(kit.Languages("local"), "c") {
		computemwtest.Require(t, false, "gcc and g++ are not installed")
	}

	code := `#include <stdio.h>
int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
#ifdef __OPTIMIZE__
	puts("optimized");
#else
	puts("not optimized");
#endif
	fputs("to stderr\n", stderr);
	puts("last");
	return 0;
}
`
	body, _ := json.Marshal(httpapi.ExecuteRequest{Language: "c", Code: code, CompileOptions: []string{"-O0"}, MergeStderr: true})
	status, m := postJSON(t, base, "/execute", string(body))
	if status != 200 || m["output"] != "not optimized\nto stderr\nlast\n" || m["stderr"] != "" {
		t.Errorf("compile options and merged stderr: %d %v", status, m)
	}
	status, m = postJSON(t, base, "/exec", `{"command":"echo a; echo b >&2; echo c","mergeStderr":true}`)
	if status != 200 || m["output"] != "a\nb\nc\n" {
		t.Errorf("/exec with mergeStderr: %d %v", status, m)
	}

	for _, c := range []struct{ name, body, code, says string }{
		{"option not allowed", `{"language":"c","code":"int main(){}","compileOptions":["-fplugin=/x.so"]}`, "BAD_REQUEST", `"-fplugin=/x.so"`},
		{"version not installed", `{"language":"python","code":"print(1)","version":"2.7"}`, "BAD_REQUEST", `"2.7"`},
		{"compile limit above the maximum", `{"language":"c","code":"int main(){}","compileTimeout":3600000}`, "BAD_REQUEST", "compileTimeout"},
	} {
		status, m := postJSON(t, base, "/execute", c.body)
		if status != 400 || m["code"] != c.code || !strings.Contains(m["error"].(string), c.says) {
			t.Errorf("%s: %d %v, want 400 %s saying %s", c.name, status, m, c.code, c.says)
		}
	}

	// The role allows a second: a compile limit of a minute is lowered to
	// it, and a compile that cannot end stops there.
	pol, err := rbac.New(rbac.Config{Roles: map[string]rbac.Permissions{"dev": {
		CanExecuteCode: true, CanCreateSandbox: true, AllowedProviders: []string{"*"},
		ResourceLimits: rbac.ResourceLimits{MaxExecutionTime: time.Second},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	roled := localKit(t, computemw.Config{Policies: []computemw.Policy{asRole("dev"), pol}, MaxTimeout: time.Minute})
	body, _ = json.Marshal(map[string]any{"language": "cpp", "code": neverCompiles, "compileTimeout": 60000})
	status, m = postJSON(t, adapters[0].Start(t, roled), "/execute", string(body))
	if status != 408 || m["code"] != "TIMEOUT" || !strings.Contains(m["error"].(string), "compilation exceeded its time limit of 1s") {
		t.Errorf("a compile limit above the role's: %d %v, want TIMEOUT at the role's 1s", status, m)
	}
}

// A WebSocket execute message merges stderr into stdout on request.
func TestWebSocketMergeStderr(t *testing.T) {
	kit := localKit(t, computemw.Config{})
	ws := dialWS(t, adapters[0].Start(t, kit))
	ws.send(httpapi.WSMessage{Type: "create-sandbox"})
	if m := ws.next(); m.Type != "sandbox-ready" {
		t.Fatalf("got %+v", m)
	}
	ws.send(httpapi.WSMessage{Type: "execute", Command: "echo 1; echo 2 >&2; echo 3", MergeStderr: true})
	var out strings.Builder
	for {
		m := ws.next()
		if m.Type == "execution-complete" {
			break
		}
		if m.Type != "output" || m.Stream != "stdout" {
			t.Fatalf("got %+v", m)
		}
		out.WriteString(m.Data)
	}
	if out.String() != "1\n2\n3\n" {
		t.Errorf("merged output %q", out.String())
	}
}
