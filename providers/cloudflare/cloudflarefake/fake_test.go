package cloudflarefake

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// The fake quotes argv as the bridge does (helpers.ts shellQuote), and
// bash reads each token back unchanged.
func TestShellQuoteRoundTrip(t *testing.T) {
	for _, arg := range []string{"plain", "a b", "it's", `back\slash`, "new\nline", "tab\there", `$HOME "q"`, "ü", ""} {
		q := shellQuote(arg)
		out, err := exec.Command("bash", "-c", "printf %s "+q).Output()
		if err != nil {
			t.Fatalf("%q quoted %s: %v", arg, q, err)
		}
		if string(out) != arg {
			t.Errorf("%q quoted %s reads back as %q", arg, q, out)
		}
	}
	if shellQuote("a/b-c.d") != "a/b-c.d" {
		t.Error("a safe token was quoted")
	}
}

// Paths resolve under /workspace as the bridge's resolveWorkspacePath
// resolves them; anything else is outside.
func TestHostPath(t *testing.T) {
	sb := &sandbox{workspace: "/host/ws"}
	for in, want := range map[string]string{
		"/workspace": "/host/ws", "/workspace/a/b": "/host/ws/a/b", "a/../b": "/host/ws/b",
		"/workspace/../workspace/x": "/host/ws/x", "/etc/passwd": "", "/workspace/../../etc": "", "/workspacex": "",
	} {
		got, ok := sb.hostPath(in)
		if (want == "") == ok || got != want {
			t.Errorf("hostPath(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// The document loads, and a file path with slashes matches readFile with
// the rest of the path as its parameter.
func TestSpecMatchesFilePaths(t *testing.T) {
	doc, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest("GET", "http://bridge/v1/sandbox/abc/file/workspace/a/b.txt", nil)
	m, err := doc.CheckRequest(r, specPath(r.URL.Path), nil)
	if err != nil || m.Op != "readFile" || m.Params["id"] != "abc" || !strings.Contains(m.Params["path"], "b.txt") {
		t.Fatalf("match %+v, %v", m, err)
	}
}
