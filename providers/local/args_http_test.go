//go:build linux

package local_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// POST /execute over a real server: args reach the program as its argv,
// malformed args are a 400 BAD_REQUEST before any sandbox exists, and a
// compiled language reports its compiler's output apart (compileOutput),
// a failed compile as a 400 EXECUTION_ERROR carrying it.
func TestExecuteArgsAndCompileOutputHTTP(t *testing.T) {
	p := newTestProvider(t, local.Config{BuildCacheDir: sharedBuildCache(t)})
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{p}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kit.Close(t.Context()) })
	srv := httptest.NewServer(computehttp.Handler(kit))
	t.Cleanup(srv.Close)

	post := func(body any) (int, map[string]any) {
		t.Helper()
		b, _ := json.Marshal(body)
		resp, err := http.Post(srv.URL+"/execute", "application/json", strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, out
	}

	status, out := post(map[string]any{"language": "sh", "code": `for a in "$@"; do echo "[$a]"; done`, "args": []string{"a b", "$(id)", ";", ""}})
	if status != 200 || out["output"] != "[a b]\n[$(id)]\n[;]\n[]\n" {
		t.Fatalf("args: %d %v", status, out)
	}
	if _, ok := out["compileOutput"]; ok {
		t.Errorf("an interpreted language reported compileOutput: %v", out)
	}

	for name, args := range map[string]any{
		"NUL":       []string{"a\x00b"},
		"too many":  make([]string, computemw.MaxArgs+1),
		"too large": []string{strings.Repeat("x", computemw.MaxArgsBytes)},
		"not array": "a b",
		"not text":  []int{1},
	} {
		status, out := post(map[string]any{"language": "sh", "code": "echo", "args": args})
		if status != 400 || out["code"] != string(computemw.CodeBadRequest) {
			t.Errorf("%s: %d %v, want 400 BAD_REQUEST", name, status, out)
		}
	}

	requireLanguage(t, p, "c")
	status, out = post(map[string]any{"language": "c", "code": "#include <stdio.h>\nint main(int c, char **v) { printf(\"%s\\n\", v[1]); }\n#warning compiled-with-a-warning\n", "args": []string{"argv one"}})
	if status != 200 || out["output"] != "argv one\n" || !strings.Contains(out["compileOutput"].(string), "compiled-with-a-warning") {
		t.Errorf("compiled: %d %v", status, out)
	}
	status, out = post(map[string]any{"language": "c", "code": "int main(void) { return nope; }\n"})
	details, _ := out["details"].(map[string]any)
	if status != 400 || out["code"] != string(computemw.CodeExecution) || !strings.Contains(out["error"].(string), "nope") ||
		details == nil || !strings.Contains(details["compileOutput"].(string), "nope") {
		t.Errorf("compile error: %d %v", status, out)
	}
}
