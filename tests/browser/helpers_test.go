package browser

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// playground is the example the browser test drives.
const playground = "github.com/computemw/kit/examples/playground"

// chromium finds Debian's chromium (or Ubuntu's chromium-browser).
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// nodeModules is where scripts/setup-node-playground.sh installs
// xterm.js, or "" when it did not.
func nodeModules() string {
	_, file, _, _ := runtime.Caller(0)
	nm := filepath.Join(filepath.Dir(file), "..", "..", ".cache", "node-playground", "node_modules")
	if _, err := os.Stat(filepath.Join(nm, "@xterm", "xterm", "package.json")); err != nil {
		return ""
	}
	return nm
}

// get fetches url and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
