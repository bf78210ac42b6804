//go:build linux

package local_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// releaseRuntimes are two installed versions of one language, told apart
// by what their version commands print and by what they run a program
// with (the host has one python; each release marks its output).
func releaseRuntimes() []local.Runtime {
	release := func(r string) local.Runtime {
		return local.Runtime{Name: "pyrel", Release: r, Ext: ".py",
			Command: []string{"python3", "-c", "import sys; print('release " + r + "'); exec(open(sys.argv[1]).read())"},
			Version: []string{"sh", "-c", "echo Python " + r + ".9"}}
	}
	first := release("3.11")
	first.Aliases = []string{"pr"}
	return []local.Runtime{first, release("3.12")}
}

// A request names one of a language's installed versions; none is the
// first; one not installed is a 400 listing those that are; the listing
// names them all.
func TestRuntimeReleases(t *testing.T) {
	p := newTestProvider(t, local.Config{Runtimes: releaseRuntimes()})
	requireLanguage(t, p, "pyrel")
	sb := newSandbox(t, p, computemw.CreateOptions{})
	for _, c := range []struct{ lang, version, want string }{
		{"pyrel", "", "release 3.11\nhi\n"},
		{"pr", "3.12", "release 3.12\nhi\n"},
		{"pyrel", "3.11", "release 3.11\nhi\n"},
	} {
		res, err := sb.RunCode(t.Context(), c.lang, "print('hi')\n", computemw.ExecOptions{Version: c.version})
		if err != nil || res.Stdout != c.want {
			t.Errorf("%s version %q: %v %+v, want %q", c.lang, c.version, err, res, c.want)
		}
	}
	_, err := sb.RunCode(t.Context(), "pyrel", "print('hi')\n", computemw.ExecOptions{Version: "2.7"})
	var ce *computemw.Error
	if !errors.As(err, &ce) || ce.Code != computemw.CodeBadRequest || !strings.Contains(ce.Message, "3.11, 3.12") {
		t.Errorf("an unknown version: %v, want BAD_REQUEST listing 3.11, 3.12", err)
	}
	rts, err := p.Runtimes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(rts) != 1 || rts[0].Name != "pyrel" || rts[0].Version != "Python 3.11.9" || !slices.Equal(rts[0].Versions, []string{"3.11", "3.12"}) {
		t.Errorf("Runtimes() = %+v, want one pyrel of Python 3.11.9 with versions 3.11, 3.12", rts)
	}
}

// Entries that share a name need a release each, distinct.
func TestRuntimeReleasesAreDistinct(t *testing.T) {
	rts := releaseRuntimes()
	rts[1].Release = "3.11"
	if _, err := local.New(local.Config{BaseDir: testBaseDir(t), Runtimes: rts}); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("two entries of one release: %v", err)
	}
	rts[1].Release = ""
	if _, err := local.New(local.Config{BaseDir: testBaseDir(t), Runtimes: rts}); err == nil || !strings.Contains(err.Error(), "used twice") {
		t.Errorf("an entry without a release beside another: %v", err)
	}
}

// A request's compile options are the runtime's allowed flags, placed so
// that they win over the runtime's own (-O0 after -O2); each set of flags
// is its own build; another flag is a 400 naming it.
func TestCompileOptions(t *testing.T) {
	p := newTestProvider(t, local.Config{BuildCacheDir: sharedBuildCache(t)})
	requireLanguage(t, p, "c")
	sb := newSandbox(t, p, computemw.CreateOptions{})
	code := `#include <stdio.h>
int main(void) {
#ifdef __OPTIMIZE__
	puts("optimized");
#else
	puts("not optimized");
#endif
#ifdef __STRICT_ANSI__
	puts("iso");
#else
	puts("gnu");
#endif
	return 0;
}
// ` + randHex() + "\n"
	for _, c := range []struct {
		options []string
		want    string
	}{
		{nil, "optimized\ngnu\n"},
		{[]string{"-O0"}, "not optimized\ngnu\n"},
		{[]string{"-O0", "-std=c11"}, "not optimized\niso\n"},
	} {
		res, err := sb.RunCode(t.Context(), "c", code, computemw.ExecOptions{CompileOptions: c.options})
		if err != nil || res.Stdout != c.want {
			t.Errorf("options %q: %v %+v, want %q", c.options, err, res, c.want)
		}
	}
	_, err := sb.RunCode(t.Context(), "c", code, computemw.ExecOptions{CompileOptions: []string{"-O0", "-fplugin=/tmp/x.so"}})
	var ce *computemw.Error
	if !errors.As(err, &ce) || ce.Code != computemw.CodeBadRequest || !strings.Contains(ce.Message, `"-fplugin=/tmp/x.so"`) {
		t.Errorf("a flag not allowed: %v, want BAD_REQUEST naming it", err)
	}
	_, err = sb.RunCode(t.Context(), "sh", "echo hi", computemw.ExecOptions{CompileOptions: []string{"-O0"}})
	if !errors.As(err, &ce) || ce.Code != computemw.CodeBadRequest {
		t.Errorf("compile options for an interpreted language: %v, want BAD_REQUEST", err)
	}
}

// With a compile limit of its own the compile stops at it, and the run
// step has the whole execution's time limit after a compile, however long
// the compile took.
func TestCompileTimeoutApart(t *testing.T) {
	fifo := "/tmp/fifo-" + randHex()
	rts := []local.Runtime{
		// Never ends: nothing writes the FIFO it reads.
		{Name: "never-compiles", Ext: ".txt", Compile: []string{"sh", "-c", "mkfifo " + fifo + " && read x < " + fifo}, Run: []string{"{out}/main"}},
		// Takes longer than the run's limit, then makes a program that
		// says it started and never ends.
		{Name: "slow-compile", Ext: ".txt",
			Compile: []string{"sh", "-c", `sleep 2.5 && printf '#!/bin/sh\necho started\nexec sleep 3600\n' > {out}/main && chmod +x {out}/main`},
			Run:     []string{"{out}/main"}},
	}
	p := newTestProvider(t, local.Config{Runtimes: rts, BuildCacheDir: sharedBuildCache(t)})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	var ce *computemw.Error
	_, err := bounded(t, time.Minute, func() (*computemw.Result, error) {
		return sb.RunCode(t.Context(), "never-compiles", "x "+randHex(), computemw.ExecOptions{Timeout: 20 * time.Second, CompileTimeout: 300 * time.Millisecond})
	})
	if !errors.As(err, &ce) || ce.Code != computemw.CodeTimeout || !strings.Contains(ce.Message, "compilation exceeded its time limit of 300ms") {
		t.Errorf("a compile past its own limit: %v, want TIMEOUT naming the compile's 300ms", err)
	}
	res, err := bounded(t, time.Minute, func() (*computemw.Result, error) {
		return sb.RunCode(t.Context(), "slow-compile", "x "+randHex(), computemw.ExecOptions{Timeout: 2 * time.Second, CompileTimeout: time.Minute})
	})
	if !errors.As(err, &ce) || ce.Code != computemw.CodeTimeout || strings.Contains(ce.Message, "compil") || res == nil || res.Stdout != "started\n" {
		t.Errorf("a run after a compile longer than its limit: %v %+v, want the run started and stopped by its own 2s", err, res)
	}
}

// With MergeStderr the program's stderr goes into its stdout in the order
// written, on each path an execution takes: a sandbox's first execution,
// one through its init, and a compiled program's run step.
func TestMergeStderr(t *testing.T) {
	p := newTestProvider(t, local.Config{BuildCacheDir: sharedBuildCache(t)})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	merged := computemw.ExecOptions{MergeStderr: true}
	for i := range 2 {
		res := run(t, sb, "echo 1; echo 2 >&2; echo 3; echo 4 >&2", merged)
		if res.Stdout != "1\n2\n3\n4\n" || res.Stderr != "" {
			t.Errorf("exec %d: stdout %q stderr %q, want 1-4 in stdout", i, res.Stdout, res.Stderr)
		}
	}
	res := run(t, sb, "echo 1; echo 2 >&2", computemw.ExecOptions{})
	if res.Stdout != "1\n" || res.Stderr != "2\n" {
		t.Errorf("without MergeStderr: stdout %q stderr %q", res.Stdout, res.Stderr)
	}
	requireLanguage(t, p, "c")
	code := `#include <stdio.h>
int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	puts("out 1"); fputs("err 2\n", stderr); puts("out 3"); fputs("err 4\n", stderr);
	return 0;
}
`
	r, err := sb.RunCode(t.Context(), "c", code, merged)
	if err != nil || r.Stdout != "out 1\nerr 2\nout 3\nerr 4\n" || r.Stderr != "" {
		t.Errorf("a compiled program: %v %+v", err, r)
	}
}

// The runtime table lists each release of a language.
func TestRuntimeTableListsReleases(t *testing.T) {
	p := newTestProvider(t, local.Config{Runtimes: releaseRuntimes()})
	var got []string
	for _, r := range p.RuntimeTable() {
		got = append(got, r.Name+" "+r.Release)
	}
	if !slices.Equal(got, []string{"pyrel 3.11", "pyrel 3.12"}) {
		t.Errorf("RuntimeTable() = %q", got)
	}
}

// A pooled sandbox's first execution, which its held shell would run,
// merges stderr too.
func TestMergeStderrInPooledSandbox(t *testing.T) {
	p := newTestProvider(t, local.Config{WarmPool: local.PoolConfig{Size: 1, Workers: 1}})
	waitUntil(t, "a full pool", func() bool { return p.PoolStats().Ready == 1 })
	sb := newSandbox(t, p, computemw.CreateOptions{})
	if s := p.PoolStats(); s.Hits != 1 {
		t.Fatalf("the sandbox did not come from the pool: %+v", s)
	}
	for i := range 2 {
		res := run(t, sb, "echo 1; echo 2 >&2; echo 3", computemw.ExecOptions{MergeStderr: true})
		if res.Stdout != "1\n2\n3\n" || res.Stderr != "" {
			t.Errorf("exec %d: stdout %q stderr %q", i, res.Stdout, res.Stderr)
		}
	}
}
