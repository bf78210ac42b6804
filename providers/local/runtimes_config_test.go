//go:build linux

package local_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// The runtime table is configuration: a language is added, interpreted or
// compiled, without touching the provider, and listed.
func TestRuntimeTableIsConfiguration(t *testing.T) {
	rts := append(local.DefaultRuntimes(),
		// An interpreted language: the program file is appended to the
		// command, then the execution's args.
		local.Runtime{Name: "shout", Aliases: []string{"loud"}, Ext: ".txt",
			Command: []string{"sh", "-c", `tr a-z A-Z < "$0"; echo "$@"`}},
		// A compiled one, with flags of its own and a fixed compile
		// environment.
		local.Runtime{Name: "c-strict", File: "prog.c",
			Compile: []string{"gcc", "-std=c99", "-Wall", "-Werror", "-o", "{out}/prog", "{file}"},
			Run:     []string{"{out}/prog"},
			Env:     map[string]string{"LANG": "C"}},
		local.Runtime{Name: "missing-lang", Command: []string{"no-such-interpreter-" + randHex()}, Ext: ".x"},
	)
	p := newTestProvider(t, local.Config{Runtimes: rts, BuildCacheDir: sharedBuildCache(t)})
	langs := p.Languages()
	if !slices.Contains(langs, "shout") || !slices.Contains(langs, "loud") || slices.Contains(langs, "missing-lang") {
		t.Fatalf("Languages() = %v", langs)
	}
	infos := p.RuntimeTable()
	i := slices.IndexFunc(infos, func(r local.RuntimeInfo) bool { return r.Name == "missing-lang" })
	if i < 0 || infos[i].Available || !strings.Contains(infos[i].Reason, "not installed") {
		t.Errorf("Runtimes() does not explain the missing language: %+v", infos)
	}
	sb := newSandbox(t, p, computemw.CreateOptions{})
	res, err := sb.RunCode(t.Context(), "loud", "quiet words\n", computemw.ExecOptions{Args: []string{"and", "args"}})
	if err != nil || res.Stdout != "QUIET WORDS\nand args\n" {
		t.Fatalf("shout: %v %+v", err, res)
	}
	requireLanguage(t, p, "c-strict")
	res, err = sb.RunCode(t.Context(), "c-strict", "#include <stdio.h>\nint main(void) { puts(\"strict\"); return 0; }\n", computemw.ExecOptions{})
	if err != nil || res.Stdout != "strict\n" {
		t.Fatalf("c-strict: %v %+v", err, res)
	}
	// -Werror is the runtime's own flag: a warning fails the compile.
	_, err = sb.RunCode(t.Context(), "c-strict", "int main(void) { int unused; return 0; }\n#warning made-to-fail\n", computemw.ExecOptions{})
	var ce *computemw.Error
	if !errors.As(err, &ce) || ce.Code != computemw.CodeExecution || !strings.Contains(ce.Message, "made-to-fail") {
		t.Errorf("a warning under -Werror: %v", err)
	}
}

// bigProgram is a C program that takes the compiler about a second and
// some 40 MB: a large initialised array. It prints the array's sum.
func bigProgram() (code, sum string) {
	var b strings.Builder
	b.WriteString("#include <stdio.h>\nstatic const int a[] = {")
	total := 0
	for i := range 200000 {
		v := i * 7 % 1000
		total += v
		b.WriteString(strconv.Itoa(v) + ",")
	}
	b.WriteString("};\nint main(void) { long s = 0; for (unsigned i = 0; i < sizeof a / sizeof *a; i++) s += a[i]; printf(\"%ld\\n\", s); }\n// " + randHex() + "\n")
	return b.String(), strconv.Itoa(total) + "\n"
}

// The compile step has time and memory limits of its own
// (Config.CompileTimeout, Config.CompileMemoryMB), apart from the run
// step's.
func TestCompileLimits(t *testing.T) {
	cache := sharedBuildCache(t)
	compile := func(cfg local.Config) (*computemw.Result, string, error) {
		t.Helper()
		cfg.BuildCacheDir = cache
		p := newTestProvider(t, cfg)
		requireLanguage(t, p, "c")
		sb := newSandbox(t, p, computemw.CreateOptions{})
		// Gone before the next provider's leak check, which counts every
		// child process of the test binary (each sandbox has its init).
		defer sb.Destroy(t.Context())
		code, sum := bigProgram()
		res, err := sb.RunCode(t.Context(), "c", code, computemw.ExecOptions{Timeout: time.Minute})
		return res, sum, err
	}
	var ce *computemw.Error
	_, _, err := compile(local.Config{CompileTimeout: 200 * time.Millisecond})
	if !errors.As(err, &ce) || ce.Code != computemw.CodeTimeout || !strings.Contains(ce.Message, "compilation exceeded its time limit") {
		t.Errorf("a compile past its time limit: %v, want TIMEOUT naming the compilation", err)
	}
	_, _, err = compile(local.Config{CompileMemoryMB: 16})
	if !errors.As(err, &ce) || ce.Code != computemw.CodeResource || !strings.Contains(ce.Message, "compilation exceeded its memory limit of 16 MB") {
		t.Errorf("a compile past its memory limit: %v, want RESOURCE_ERROR naming the compilation", err)
	}
	// The run step's memory is the sandbox's, and the compile's is its
	// own: a compile larger than the sandbox succeeds.
	res, sum, err := compile(local.Config{MemoryMB: 24})
	if err != nil || res.Stdout != sum {
		t.Errorf("a compile larger than the run step's memory: %v %+v, want %q", err, res, sum)
	}
}
