package local

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/computemw/kit/providers/local/internal/initproto"
)

// Runtime describes how to run source code of one language in a sandbox:
// an interpreter (Command), or a compile step and a run step (Compile and
// Run). The runtime table is configuration: Config.Runtimes replaces
// DefaultRuntimes, so a language is added without touching the provider.
//
// Compile, Run and Env may use three placeholders: {file} is the program's
// source file, {out} the directory the compile step writes its artefact
// into (what the run step executes), {cache} a private, writable directory
// for the toolchain's own cache (a copy of the cache Warm filled).
type Runtime struct {
	// Name is the language's canonical name ("python").
	Name string
	// Aliases are other names clients may use ("py", "python3").
	Aliases []string
	// Command is the interpreter and its leading arguments; the program
	// file, then the execution's Args, are appended. Command[0] is looked
	// up in the sandbox's PATH. Unused when Compile is set.
	Command []string
	// Ext is the program file's extension, with the dot (".py").
	Ext string
	// File is the program's file name; default "main" + Ext. Languages
	// that tie a file's name to its content (Java's public class) set it.
	File string
	// Compile is the compile step's argv; empty for an interpreted
	// language. It runs in a directory of its own holding only the
	// program, with a fixed environment (Env): nothing of the workspace or
	// the sandbox's variables reaches a compile, so its artefact depends
	// only on the source, the toolchain and the flags, and can be cached.
	Compile []string
	// Run is the run step's argv for a compiled language, typically
	// {out}/main; the execution's Args are appended.
	Run []string
	// Version prints the toolchain's version. Its output is part of the
	// build cache's key and of the provider's listing of runtimes.
	Version []string
	// Env is the compile step's environment, over a fixed base (PATH,
	// HOME=/tmp, TMPDIR, LANG).
	Env map[string]string
	// HostDirs are host directories the toolchain needs outside the
	// system directories (a rustup toolchain), bound read-only at the same
	// path in the compile and run steps.
	HostDirs []string
	// Release labels one of several installed versions of a language
	// ("3.11"): entries of the table may share a Name when each has a
	// Release of its own, and a request's version (ExecOptions.Version)
	// picks one by it; the first available entry is the default. Aliases
	// belong to the name: list them on the first entry.
	Release string
	// CompileOptions are the compiler flags a request may add
	// (ExecOptions.CompileOptions), each exactly as listed. They go into
	// the compile argv where it has an argument "{options}", else after
	// its first word.
	CompileOptions []string
	// Warm, when set, is a trusted program compiled once per toolchain,
	// with no client input, in a sandbox of the provider's own; the
	// {cache} directory it leaves is the seed that every compile gets a
	// private copy of. Go sets it so that a compile need not rebuild the
	// standard library, while no sandbox can write into another's cache.
	Warm string
}

// compiled reports whether the runtime has a compile step.
func (rt *Runtime) compiled() bool { return len(rt.Compile) > 0 }

// fileName is the program's file name.
func (rt *Runtime) fileName() string {
	if rt.File != "" {
		return rt.File
	}
	return "main" + rt.Ext
}

// tool is the executable whose presence makes the runtime available.
func (rt *Runtime) tool() string {
	if rt.compiled() {
		return rt.Compile[0]
	}
	return rt.Command[0]
}

// validate checks a table entry.
func (rt *Runtime) validate(i int) error {
	switch {
	case rt.Name == "":
		return fmt.Errorf("local: runtime %d: name is required", i)
	case rt.compiled() && len(rt.Run) == 0:
		return fmt.Errorf("local: runtime %q: a compiled language needs Run", rt.Name)
	case !rt.compiled() && len(rt.Command) == 0:
		return fmt.Errorf("local: runtime %q: Command (or Compile and Run) is required", rt.Name)
	case len(rt.CompileOptions) > 0 && !rt.compiled():
		return fmt.Errorf("local: runtime %q: CompileOptions need a compile step", rt.Name)
	case strings.ContainsAny(rt.fileName(), "/\x00") || rt.fileName() == "." || rt.fileName() == "..":
		return fmt.Errorf("local: runtime %q: file name %q is not a plain name", rt.Name, rt.fileName())
	}
	for _, d := range rt.HostDirs {
		if !filepath.IsAbs(d) {
			return fmt.Errorf("local: runtime %q: host dir %q is not absolute", rt.Name, d)
		}
	}
	return nil
}

// DefaultRuntimes is the runtime table used when Config.Runtimes is nil:
// interpreters, and the compiled languages Go, C, C++, Rust, Java and
// TypeScript (tsc). Entries whose tool is missing from the host are
// reported as unavailable rather than failing at run time. A Rust
// toolchain installed by rustup (outside the system directories) is found
// through the host's rustc and bound read-only into the compile step.
func DefaultRuntimes() []Runtime {
	rts := []Runtime{
		{Name: "python", Aliases: []string{"python3", "py"}, Command: []string{"python3", "-u"}, Ext: ".py", Version: []string{"python3", "--version"}},
		{Name: "node", Aliases: []string{"javascript", "js", "nodejs"}, Command: []string{"node"}, Ext: ".js", Version: []string{"node", "--version"}},
		{Name: "bash", Command: []string{"bash"}, Ext: ".sh"},
		{Name: "sh", Aliases: []string{"shell"}, Command: []string{"sh"}, Ext: ".sh", Version: []string{"sh", "-c", shVersion}},
		{Name: "ruby", Aliases: []string{"rb"}, Command: []string{"ruby"}, Ext: ".rb"},
		{Name: "perl", Aliases: []string{"pl"}, Command: []string{"perl"}, Ext: ".pl"},
		{Name: "php", Command: []string{"php"}, Ext: ".php"},
		{
			Name: "go", Aliases: []string{"golang"}, Ext: ".go",
			Compile: []string{hostTool("go"), "build", "-trimpath", "-o", "{out}/main", "{file}"},
			Run:     []string{"{out}/main"},
			Version: []string{hostTool("go"), "version"},
			Env: map[string]string{
				"GOCACHE": "{cache}", "GOPATH": "/tmp/go", "GOTOOLCHAIN": "local", "GOPROXY": "off",
				"GOFLAGS": "-mod=mod", "GO111MODULE": "off", "CGO_ENABLED": "0", "GOTELEMETRY": "off",
			},
			Warm: goWarmProgram,
		},
		{
			Name: "c", Ext: ".c",
			Compile: []string{"gcc", "-O2", "-std=gnu17", "{options}", "-o", "{out}/main", "{file}", "-lm"},
			Run:     []string{"{out}/main"},
			Version: []string{"gcc", "--version"},
			CompileOptions: slices.Concat(gccOptions, []string{
				"-std=c99", "-std=c11", "-std=c17", "-std=gnu99", "-std=gnu11", "-std=gnu17"}),
		},
		{
			Name: "cpp", Aliases: []string{"c++", "cxx"}, Ext: ".cpp",
			Compile: []string{"g++", "-O2", "-std=gnu++17", "{options}", "-o", "{out}/main", "{file}"},
			Run:     []string{"{out}/main"},
			Version: []string{"g++", "--version"},
			CompileOptions: slices.Concat(gccOptions, []string{
				"-std=c++11", "-std=c++14", "-std=c++17", "-std=c++20", "-std=gnu++11", "-std=gnu++14", "-std=gnu++17", "-std=gnu++20"}),
		},
		rustRuntime(),
		{
			Name: "java", File: "Main.java", Ext: ".java",
			Compile: []string{"javac", "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1", "-encoding", "UTF-8", "-d", "{out}", "{file}"},
			Run:     []string{"java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", "{out}", "Main"},
			// The JDK's runtime reports the version (javac needs the
			// JDK's security configuration, which an execution's
			// sandbox does not bind; the compiler's binary is in the
			// build cache's key all the same).
			Version: []string{"java", "-version"},
			// Debian's JDK keeps its configuration (java.security) in
			// /etc, which sandboxes do not otherwise see.
			HostDirs: javaConfigDirs(),
		},
		{
			Name: "typescript", Aliases: []string{"ts"}, Ext: ".ts",
			Compile: []string{"tsc", "--strict", "--target", "es2020", "--module", "commonjs", "--outDir", "{out}", "{file}"},
			Run:     []string{"node", "{out}/main.js"},
			Version: []string{"tsc", "--version"},
		},
	}
	return rts
}

// gccOptions are the flags a request may give GCC (C and C++): they
// change the code made and the warnings, never what the compile may read
// or load (-fplugin, -B, -I, -specs ...).
var gccOptions = []string{"-O0", "-O1", "-O2", "-O3", "-Os", "-g", "-Wall", "-Wextra", "-Werror", "-pedantic", "-w"}

// goWarmProgram is the trusted program that fills Go's shared build cache:
// it imports the standard packages small programs use most.
const goWarmProgram = `package main

import (
	"bufio"
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

var _ = []any{bufio.NewReader, bytes.NewReader, heap.Init, errors.New, io.EOF, maps.Keys[map[int]int],
	math.Pi, rand.Int, sort.Ints, strconv.Itoa, strings.Fields, sync.Mutex{}, time.Now, unicode.IsDigit,
	slices.Sort[[]int]}

func main() { fmt.Fprintln(os.Stdout, "warm") }
`

// hostTool is name when the sandbox's PATH has it, else its absolute path
// in the host's PATH (Go's official archive installs to /usr/local/go/bin,
// which sandboxes see but do not have in their PATH).
func hostTool(name string) string {
	for _, dir := range filepath.SplitList(sandboxPath) {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return name
		}
	}
	if p, err := exec.LookPath(name); err == nil && filepath.IsAbs(p) {
		return p
	}
	return name
}

// javaConfigDirs are the JDK configuration directories under /etc.
func javaConfigDirs() []string {
	dirs, _ := filepath.Glob("/etc/java-*")
	return dirs
}

// shVersion names the shell sh is (dash has no --version), with its
// package's version where the package database says it.
const shVersion = `s=$(readlink -f /bin/sh); n=${s##*/}; v=$(dpkg-query -W -f='${Version}' "$n" 2>/dev/null); echo "$n${v:+ $v}"`

// rustRuntime is Rust's entry: rustc from the system directories, or the
// host's rustup toolchain (bound read-only) when that is what is installed.
func rustRuntime() Runtime {
	rt := Runtime{
		Name: "rust", Aliases: []string{"rs"}, Ext: ".rs",
		Compile: []string{"rustc", "-O", "-o", "{out}/main", "{file}"},
		Run:     []string{"{out}/main"},
		Version: []string{"rustc", "--version"},
	}
	for _, dir := range filepath.SplitList(sandboxPath) {
		if _, err := os.Stat(filepath.Join(dir, "rustc")); err == nil {
			return rt
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "rustc", "--print", "sysroot").Output()
	sysroot := strings.TrimSpace(string(out))
	if err != nil || !filepath.IsAbs(sysroot) {
		return rt
	}
	rustc := filepath.Join(sysroot, "bin", "rustc")
	rt.Compile[0], rt.Version[0] = rustc, rustc
	rt.HostDirs = []string{sysroot}
	return rt
}

// sandboxPath is the PATH inside every sandbox, where its init looks for
// programs too.
const sandboxPath = initproto.DefaultPath

// runtimeTable resolves language names to runtimes present on the host.
type runtimeTable struct {
	byName    map[string]*Runtime   // every name and alias → the name's first entry
	releases  map[string][]*Runtime // canonical name → its entries, in order
	found     map[*Runtime]bool     // entry → tool found
	available map[string]bool       // canonical name → some entry's tool found
	missing   map[string]string     // canonical name → why not
}

func newRuntimeTable(rts []Runtime, visible func(string) bool) (*runtimeTable, error) {
	return newRuntimeTableWith(rts, func(rt *Runtime) error {
		vis := func(p string) bool { return visible(p) || underAny(p, rt.HostDirs) }
		_, err := lookPathIn(rt.tool(), vis)
		return err
	})
}

// newRuntimeTableWith builds a runtime table; find reports whether a
// runtime's tool is present.
func newRuntimeTableWith(rts []Runtime, find func(*Runtime) error) (*runtimeTable, error) {
	t := &runtimeTable{byName: map[string]*Runtime{}, releases: map[string][]*Runtime{},
		found: map[*Runtime]bool{}, available: map[string]bool{}, missing: map[string]string{}}
	for i := range rts {
		rt := &rts[i]
		if err := rt.validate(i); err != nil {
			return nil, err
		}
		if err := t.addRelease(rt); err != nil {
			return nil, err
		}
		for _, n := range append([]string{rt.Name}, rt.Aliases...) {
			if prev, dup := t.byName[n]; dup && prev.Name != rt.Name {
				return nil, fmt.Errorf("local: runtime name %q is used twice", n)
			} else if !dup {
				t.byName[n] = rt
			}
		}
		if err := find(rt); err != nil {
			if !t.available[rt.Name] {
				t.missing[rt.Name] = err.Error()
			}
		} else {
			t.found[rt] = true
			t.available[rt.Name] = true
			delete(t.missing, rt.Name)
		}
	}
	return t, nil
}

// underAny reports whether path is one of dirs or beneath one.
func underAny(path string, dirs []string) bool {
	for _, d := range dirs {
		if path == d || strings.HasPrefix(path, strings.TrimSuffix(d, "/")+"/") {
			return true
		}
	}
	return false
}

// names lists every name and alias whose runtime is available, sorted.
func (t *runtimeTable) names() []string {
	var out []string
	for n, rt := range t.byName {
		if t.available[rt.Name] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// lookPathIn finds an executable in the sandbox's PATH on the host, and
// checks that it (after symlinks) lies in a directory mounted into the
// sandbox.
func lookPathIn(name string, visible func(string) bool) (string, error) {
	if strings.Contains(name, "/") {
		return checkExecutable(name, visible)
	}
	for _, dir := range filepath.SplitList(sandboxPath) {
		if p, err := checkExecutable(filepath.Join(dir, name), visible); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is not installed in the sandbox's system directories", name)
}

func checkExecutable(p string, visible func(string) bool) (string, error) {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s is not executable", p)
	}
	if !visible(real) {
		return "", fmt.Errorf("%s resolves to %s, outside the sandbox's system directories", p, real)
	}
	return p, nil
}
