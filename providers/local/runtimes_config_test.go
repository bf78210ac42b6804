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

// The compile step has time and memory limits of its own
// (Config.CompileTimeout, Config.CompileMemoryMB), apart from the run
// step's, and within the execution's: never more memory than the sandbox
// may use, never past the execution's time limit. Each limit is met by a
// compile step that cannot stay within it on any machine: one that never
// ends, one whose memory grows past any cap, and one that needs more
// memory than the sandbox it compiles for.
func TestCompileLimits(t *testing.T) {
	// hold makes a compile step of sh that runs script, then writes a
	// run step that prints the program's source.
	hold := func(name, script string) local.Runtime {
		return local.Runtime{Name: name, Ext: ".txt",
			Compile: []string{"sh", "-c", script + ` && printf '#!/bin/sh\ncat "$0.txt"\n' > {out}/main && cp {file} {out}/main.txt && chmod +x {out}/main`},
			Run:     []string{"{out}/main"}}
	}
	// The FIFO's name tells this test's compile processes from any other.
	fifo := "/tmp/fifo-" + randHex()
	rts := []local.Runtime{
		// Never ends: nothing writes the FIFO it reads.
		hold("never-ends", "mkfifo "+fifo+" && read x < "+fifo),
		// Keeps all of its input, which never ends, as one line.
		hold("grows", "tail -n 1 /dev/zero"),
		// Needs 64 MiB for a moment: 64 MiB of input as one line.
		hold("needs-64mb", "head -c 67108864 /dev/zero | tail -n 1 | wc -c > /dev/null"),
		// Needs 4 MiB, as the one above, within any cap of these tests.
		hold("needs-4mb", "head -c 4194304 /dev/zero | tail -n 1 | wc -c > /dev/null"),
	}
	// A toolchain whose shared cache is never ready: its warm, a compile
	// of the provider's, never ends (until the provider closes).
	warmFIFO := "/tmp/fifo-" + randHex()
	warmsForever := hold("warms-forever", "mkfifo "+warmFIFO+" && read x < "+warmFIFO)
	warmsForever.Warm = "the toolchain's own program\n"
	rts = append(rts, warmsForever)
	compileWith := func(cfg local.Config, create computemw.CreateOptions, lang string, opts computemw.ExecOptions) (res *computemw.Result, code string, err error) {
		t.Helper()
		cfg.Runtimes = rts
		cfg.BuildCacheDir = sharedBuildCache(t)
		p := newTestProvider(t, cfg)
		requireLanguage(t, p, lang)
		sb := newSandbox(t, p, create)
		// Gone before the next provider's leak check, which counts every
		// child process of the test binary (each sandbox has its init).
		defer sb.Destroy(t.Context())
		// The program is new to the build cache: the compile step runs.
		code = "program " + randHex() + "\n"
		if opts.Timeout == 0 {
			opts.Timeout = time.Minute
		}
		res, err = bounded(t, 2*time.Minute, func() (*computemw.Result, error) {
			return sb.RunCode(t.Context(), lang, code, opts)
		})
		return res, code, err
	}
	compile := func(cfg local.Config, lang string) (*computemw.Result, string, error) {
		t.Helper()
		return compileWith(cfg, computemw.CreateOptions{}, lang, computemw.ExecOptions{})
	}
	var ce *computemw.Error
	_, _, err := compile(local.Config{CompileTimeout: 200 * time.Millisecond}, "never-ends")
	if !errors.As(err, &ce) || ce.Code != computemw.CodeTimeout || !strings.Contains(ce.Message, "compilation exceeded its time limit of 200ms") {
		t.Errorf("a compile past its time limit: %v, want TIMEOUT naming the compilation and its limit", err)
	}
	_, _, err = compile(local.Config{CompileMemoryMB: 16}, "grows")
	if !errors.As(err, &ce) || ce.Code != computemw.CodeResource || !strings.Contains(ce.Message, "compilation exceeded its memory limit of 16 MB") {
		t.Errorf("a compile past its memory limit: %v, want RESOURCE_ERROR naming the compilation", err)
	}

	// The compile's cgroup is its own, but never larger than the
	// sandbox's memory cap: the provider's, or the smaller one the
	// sandbox was created with.
	_, _, err = compile(local.Config{MemoryMB: 24}, "needs-64mb")
	if !errors.As(err, &ce) || ce.Code != computemw.CodeResource || !strings.Contains(ce.Message, "compilation exceeded its memory limit of 24 MB") {
		t.Errorf("a compile larger than the provider's memory cap: %v, want RESOURCE_ERROR naming the compilation and the 24 MB cap", err)
	}
	_, _, err = compileWith(local.Config{}, computemw.CreateOptions{Resources: computemw.Resources{MemoryMB: 24}}, "needs-64mb", computemw.ExecOptions{})
	if !errors.As(err, &ce) || ce.Code != computemw.CodeResource || !strings.Contains(ce.Message, "compilation exceeded its memory limit of 24 MB") {
		t.Errorf("a compile larger than the sandbox's memory cap: %v, want RESOURCE_ERROR naming the compilation and the 24 MB cap", err)
	}
	// Within the cap, a compile succeeds.
	res, code, err := compileWith(local.Config{}, computemw.CreateOptions{Resources: computemw.Resources{MemoryMB: 24}}, "needs-4mb", computemw.ExecOptions{})
	if err != nil || res.ExitCode != 0 || res.Stdout != code {
		t.Errorf("a compile within the sandbox's memory cap: %v %+v, want %q", err, res, code)
	}

	// The execution's time limit covers the compile: a compile that
	// never ends, with the default compile limit (a minute), ends with
	// the execution's, and leaves no process.
	_, _, err = compileWith(local.Config{}, computemw.CreateOptions{}, "never-ends", computemw.ExecOptions{Timeout: 300 * time.Millisecond})
	if !errors.As(err, &ce) || ce.Code != computemw.CodeTimeout || !strings.Contains(ce.Message, "compilation exceeded the execution's time limit of 300ms") {
		t.Errorf("a compile past the execution's time limit: %v, want TIMEOUT naming the compilation and the 300ms limit", err)
	}
	left := func() []procInfo {
		var out []procInfo
		for _, pr := range listProcs() {
			if strings.Contains(strings.Join(pr.cmdline, " "), fifo) {
				out = append(out, pr)
			}
		}
		return out
	}
	if !eventually(10*time.Second, func() bool { return len(left()) == 0 }) {
		t.Errorf("the compile's processes are left after its timeout: %+v", left())
	}
	// The wait for a toolchain's shared cache counts too.
	_, _, err = compileWith(local.Config{}, computemw.CreateOptions{}, "warms-forever", computemw.ExecOptions{Timeout: 300 * time.Millisecond})
	if !errors.As(err, &ce) || ce.Code != computemw.CodeTimeout || !strings.Contains(ce.Message, "execution's time limit of 300ms while the warms-forever toolchain's shared cache was being prepared") {
		t.Errorf("a compile waiting for its toolchain's cache past the execution's time limit: %v, want TIMEOUT naming the wait and the 300ms limit", err)
	}
}
