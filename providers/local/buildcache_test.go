//go:build linux

package local_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// goProgram prints msg, unless built with another value of main.msg.
func goProgram(msg string) string {
	return "package main\n\nimport \"fmt\"\n\nvar msg = \"" + msg + "\"\n\nfunc main() { fmt.Println(msg) }\n"
}

func runGo(t *testing.T, sb computemw.Sandbox, code string, opts computemw.ExecOptions) (*computemw.Result, time.Duration) {
	t.Helper()
	if opts.Timeout == 0 {
		// The execution's time limit covers the wait for Go's warmed
		// cache, the first time: minutes on a busy machine.
		opts.Timeout = 9 * time.Minute
	}
	start := time.Now()
	res, err := bounded(t, 10*time.Minute, func() (*computemw.Result, error) {
		return sb.RunCode(t.Context(), "go", code, opts)
	})
	d := time.Since(start)
	if err != nil {
		t.Fatalf("RunCode: %v (%+v)", err, res)
	}
	return res, d
}

// A second compile of the same program is served by the build cache: at
// least three times faster than the first (the standard library is
// already in Go's warmed cache for both, so the first is a real compile
// of the program, not of the world).
func TestBuildCacheSecondCompileFaster(t *testing.T) {
	p := newTestProvider(t, local.Config{BuildCacheDir: sharedBuildCache(t)})
	requireLanguage(t, p, "go")
	sb := newSandbox(t, p, computemw.CreateOptions{})
	// Warms Go's cache if no test did yet.
	runGo(t, sb, goProgram("warm-"+randHex()), computemw.ExecOptions{})

	msg := "ratio-" + randHex()
	first, d1 := runGo(t, sb, goProgram(msg), computemw.ExecOptions{})
	second, d2 := runGo(t, sb, goProgram(msg), computemw.ExecOptions{})
	for _, r := range []*computemw.Result{first, second} {
		if r.ExitCode != 0 || r.Stdout != msg+"\n" {
			t.Fatalf("unexpected result %+v", r)
		}
	}
	ratio := float64(d1) / float64(d2)
	t.Logf("first compile and run %s, second %s: %.1f×", d1, d2, ratio)
	if ratio < 3 {
		t.Errorf("the second compile took %s, the first %s: %.1f×, want at least 3×", d2, d1, ratio)
	}
}

// No sandbox can read the build cache, and nothing a sandbox controls
// changes what another gets from it: not its variables (GOFLAGS cannot
// reach a compile), not its copy of an artefact, not a changed entry on
// disk (it is checked against its manifest and rebuilt).
func TestBuildCacheIsolation(t *testing.T) {
	cacheDir := sharedBuildCache(t)
	p := newTestProvider(t, local.Config{BuildCacheDir: cacheDir})
	requireLanguage(t, p, "go")
	msg := "honest-" + randHex()
	poisoned := "poisoned-" + randHex()
	code := goProgram(msg) + `
func init() {
	if len(os.Args) > 1 && os.Args[1] == "tamper" {
		// Replace its own artefact, then try the cache's directory.
		os.Remove(os.Args[0])
		os.WriteFile(os.Args[0], []byte("#!/bin/sh\necho ` + poisoned + `\n"), 0o755)
		err := os.WriteFile("` + cacheDir + `/planted", []byte("x"), 0o644)
		fmt.Println("tampered; writing the cache:", err != nil)
		os.Exit(0)
	}
}
`
	code = strings.Replace(code, `import "fmt"`, "import (\n\t\"fmt\"\n\t\"os\"\n)", 1)

	// Sandbox A asks for a poisoned build through its variables, and
	// tampers with its own copy of the artefact.
	evilEnv := map[string]string{"GOFLAGS": "-ldflags=-X=main.msg=" + poisoned, "CGO_ENABLED": "1", "GOCACHE": "/workspace/gocache"}
	a := newSandbox(t, p, computemw.CreateOptions{Env: evilEnv})
	res, _ := runGo(t, a, code, computemw.ExecOptions{Env: evilEnv})
	if res.Stdout != msg+"\n" {
		t.Fatalf("the sandbox's variables reached its compile: %q", res.Stdout)
	}
	res, _ = runGo(t, a, code, computemw.ExecOptions{Args: []string{"tamper"}})
	if res.Stdout != "tampered; writing the cache: true\n" {
		t.Fatalf("tamper run: %+v", res)
	}
	if _, err := os.Stat(filepath.Join(cacheDir, "planted")); err == nil {
		t.Fatal("a sandbox wrote into the build cache")
	}

	// Sandbox B gets the honest artefact, and cannot find the cache, or
	// A's program, anywhere it can see.
	b := newSandbox(t, p, computemw.CreateOptions{})
	res, _ = runGo(t, b, code, computemw.ExecOptions{})
	if res.Stdout != msg+"\n" || res.CompileOutput != "" {
		t.Fatalf("sandbox B got %+v, want the cached honest artefact", res)
	}
	// The system directories are the host's, read-only, and hold no
	// build: everything else is searched.
	look := run(t, b, "ls "+cacheDir+"; grep -rl -e "+msg+" / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev "+
		"--exclude-dir=usr --exclude-dir=lib --exclude-dir=lib64 --exclude-dir=bin --exclude-dir=sbin 2>/dev/null; echo searched",
		computemw.ExecOptions{Timeout: time.Minute})
	if look.Stdout != "searched\n" {
		t.Errorf("sandbox B found the cache or A's program: %q", look.Stdout)
	}

	// An entry changed on disk is not served: it is rebuilt.
	var entries []string
	_ = filepath.WalkDir(filepath.Join(cacheDir, "objects"), func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && d.Name() == "main" {
			if data, err := os.ReadFile(path); err == nil && strings.Contains(string(data), msg) {
				entries = append(entries, path)
			}
		}
		return nil
	})
	if len(entries) != 1 {
		t.Fatalf("want one cached artefact holding %q, found %v", msg, entries)
	}
	if err := os.WriteFile(entries[0], []byte("#!/bin/sh\necho "+poisoned+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	res, _ = runGo(t, b, code, computemw.ExecOptions{})
	if res.Stdout != msg+"\n" {
		t.Fatalf("a changed cache entry was served: %q", res.Stdout)
	}
	data, err := os.ReadFile(entries[0])
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); strings.HasPrefix(string(data), "#!/bin/sh") {
		t.Errorf("the changed entry (sha256 %s) is still in the cache", hex.EncodeToString(sum[:8]))
	}
}
