//go:build linux

package local_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/providers/local"
)

// helloWorld is a program per language of the default table that prints
// "hello"; a language listed without one here fails the test, so the table
// cannot grow untested.
var helloWorld = map[string]string{
	"python": `print("hello")`,
	"node":   `console.log("hello")`,
	"bash":   `echo hello`,
	"sh":     `echo hello`,
	"ruby":   `puts "hello"`,
	"perl":   `print "hello\n";`,
	"php":    `<?php echo "hello\n";`,
	// Compiled where the toolchain is installed.
	"go":         "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n",
	"c":          "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n",
	"cpp":        "#include <iostream>\nint main() { std::cout << \"hello\" << std::endl; }\n",
	"rust":       "fn main() { println!(\"hello\"); }\n",
	"java":       "public class Main { public static void main(String[] a) { System.out.println(\"hello\"); } }\n",
	"typescript": "const greeting: string = \"hello\";\nconsole.log(greeting);\n",
}

// compiledLanguages are the languages of the default table with a
// compile step.
var compiledLanguages = map[string]bool{"go": true, "c": true, "cpp": true, "rust": true, "java": true, "typescript": true}

// TestLanguagesMatchWhatRuns lists the runtimes through GET /languages of a
// real server over the local provider, then runs a hello-world in every
// one of them, under its name and under each alias.
func TestLanguagesMatchWhatRuns(t *testing.T) {
	// The compile tests' build cache: Go's standard library is built
	// once for the whole package.
	prov := newTestProvider(t, local.Config{BuildCacheDir: sharedBuildCache(t)})
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{prov}, MaxTimeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := kit.Close(context.Background()); err != nil {
			t.Errorf("kit.Close: %v", err)
		}
	})
	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL + "/api/languages")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var body httpapi.LanguagesResponse
	if resp.StatusCode != 200 || json.Unmarshal(raw, &body) != nil {
		t.Fatalf("GET /languages: %d %s", resp.StatusCode, raw)
	}
	if len(body.Providers) != 1 || body.Providers[0].Provider != local.Name || body.Providers[0].Error != "" {
		t.Fatalf("providers: %s", raw)
	}
	rts := body.Providers[0].Runtimes
	names := prov.Languages()
	var listed []string
	for _, rt := range rts {
		listed = append(listed, rt.Name)
		listed = append(listed, rt.Aliases...)
	}
	slices.Sort(listed)
	if !slices.Equal(listed, names) {
		t.Errorf("GET /languages lists %v; the provider accepts %v", listed, names)
	}
	if !slices.ContainsFunc(rts, func(rt computemw.Runtime) bool { return rt.Name == "sh" }) {
		t.Errorf("sh is on every host, yet not listed: %s", raw)
	}

	for _, rt := range rts {
		code, ok := helloWorld[rt.Name]
		if !ok {
			t.Errorf("%s is listed but this test has no hello-world for it", rt.Name)
			continue
		}
		if !strings.HasPrefix(rt.Extension, ".") || rt.Compiled != compiledLanguages[rt.Name] {
			t.Errorf("%s: extension %q, compiled %v", rt.Name, rt.Extension, rt.Compiled)
		}
		for _, name := range append([]string{rt.Name}, rt.Aliases...) {
			req, _ := json.Marshal(map[string]any{"language": name, "code": code, "timeout": 240000})
			resp, err := http.Post(srv.URL+"/api/execute", "application/json", strings.NewReader(string(req)))
			if err != nil {
				t.Fatal(err)
			}
			var res httpapi.ExecutionResponse
			err = json.NewDecoder(resp.Body).Decode(&res)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || res.Output != "hello\n" || !res.Success {
				t.Errorf("%s (%s, %s): %d %+v %v", name, rt.Name, rt.Version, resp.StatusCode, res, err)
			}
		}
	}
}

// TestRuntimeVersions checks that the versions are what the runtimes say
// on the host (the sandbox mounts the host's system directories), and that
// a runtime missing on the host is not listed.
func TestRuntimeVersions(t *testing.T) {
	rts := append(local.DefaultRuntimes(), local.Runtime{Name: "nosuch", Command: []string{"no-such-interpreter-here"}, Ext: ".x"})
	prov := newTestProvider(t, local.Config{Runtimes: rts})
	// A sandbox of the test's own shows where workspaces live.
	wsDir := filepath.Dir(local.SandboxWorkspace(newSandbox(t, prov, computemw.CreateOptions{})))
	got, err := prov.Runtimes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]computemw.Runtime{}
	for _, rt := range got {
		byName[rt.Name] = rt
	}
	if _, ok := byName["nosuch"]; ok {
		t.Error("a runtime missing from the host is listed")
	}
	for name, bin := range map[string]string{"python": "/usr/bin/python3", "node": "/usr/bin/node", "bash": "/usr/bin/bash"} {
		rt, ok := byName[name]
		if !ok {
			continue // not on this host
		}
		out, err := exec.Command(bin, "--version").CombinedOutput()
		if err != nil {
			t.Fatalf("%s --version on the host: %v", bin, err)
		}
		want, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		if rt.Version != strings.TrimSpace(want) || rt.Version == "" {
			t.Errorf("%s: version %q, the host's %s says %q", name, rt.Version, bin, want)
		}
	}
	if sh, ok := byName["sh"]; !ok || !slices.Equal(sh.Aliases, []string{"shell"}) || sh.Extension != ".sh" {
		t.Errorf("sh: %+v", sh)
	}
	// The listing's sandbox is gone: only the test's own workspace is left.
	entries, err := os.ReadDir(wsDir)
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "sb-") {
			n++
		}
	}
	if err != nil || n != 1 {
		t.Errorf("workspaces after listing: %v %v", entries, err)
	}
}

// TestToolchainVersions: a toolchain whose files live outside the system
// directories (a rustup Rust, a JDK with its configuration under /etc)
// reports the version it reports on the host, and sh reports the shell it
// is, though dash has no --version.
func TestToolchainVersions(t *testing.T) {
	prov := newTestProvider(t, local.Config{})
	got, err := prov.Runtimes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]computemw.Runtime{}
	for _, rt := range got {
		byName[rt.Name] = rt
	}
	for name, argv := range map[string][]string{"rust": {"rustc", "--version"}, "java": {"java", "-version"}} {
		rt, ok := byName[name]
		if !ok {
			continue // not on this host
		}
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v on the host: %v", argv, err)
		}
		want, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		if rt.Version == "" || rt.Version != strings.TrimSpace(want) {
			t.Errorf("%s: version %q, the host's %v says %q", name, rt.Version, argv, want)
		}
	}
	if sh, ok := byName["sh"]; ok {
		target, err := filepath.EvalSymlinks("/bin/sh")
		if err != nil {
			t.Fatal(err)
		}
		if shell := filepath.Base(target); !strings.HasPrefix(sh.Version, shell) {
			t.Errorf("sh: version %q, want it to name %s", sh.Version, shell)
		}
	}
}
