package computemwtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
)

// ProgramCase is a program in one language and the exact standard output it
// must print when run with [computemw.Sandbox.RunCode].
type ProgramCase struct {
	// Code is the program's source code.
	Code string
	// Stdout is the exact standard output the program must produce.
	Stdout string
}

// ProviderSuiteOptions tell [ProviderSuite] what the provider under test
// supports and how it was configured.
type ProviderSuiteOptions struct {
	// Languages maps a language name, as passed to RunCode, to a program
	// in that language and its expected output. Each entry is one subtest;
	// a nil map skips the per-language cases (an unknown language is
	// always tested).
	Languages map[string]ProgramCase
	// MaxOutputBytes is the output cap the provider was configured with
	// (the default for ExecOptions.MaxOutputBytes). Zero skips the
	// truncation case.
	MaxOutputBytes int64
	// SkipTimeout skips the wall-clock timeout case, for providers that
	// cannot enforce sub-second timeouts.
	SkipTimeout bool
	// OperationTimeout bounds every single call the suite makes on the
	// provider or a sandbox; default one minute.
	OperationTimeout time.Duration
}

// ProviderSuite is the conformance suite every [computemw.Provider] must
// pass. It runs each case as a subtest; newProvider is called once per
// subtest with that subtest's t, so an implementation can register its own
// cleanup and leak checks with t.Cleanup. Every sandbox the suite creates is
// destroyed with t.Cleanup.
//
// Use it from a provider's tests:
//
//	func TestProvider(t *testing.T) {
//		computemwtest.ProviderSuite(t, func(t *testing.T) computemw.Provider {
//			p := newProvider(t)
//			t.Cleanup(func() { p.Close(context.Background()) })
//			return p
//		}, computemwtest.ProviderSuiteOptions{MaxOutputBytes: 64 << 10})
//	}
//
// The commands the suite runs are POSIX shell (sh, echo, cat, printf,
// mkdir, pwd, head, tr, sleep, test).
func ProviderSuite(t *testing.T, newProvider func(t *testing.T) computemw.Provider, opts ProviderSuiteOptions) {
	t.Helper()
	if opts.OperationTimeout <= 0 {
		opts.OperationTimeout = time.Minute
	}
	s := &providerSuite{newProvider: newProvider, opts: opts}
	for _, c := range s.cases() {
		t.Run(c.name, func(t *testing.T) {
			if c.skip != "" {
				t.Skip(c.skip)
			}
			c.run(t)
		})
	}
}

type providerSuite struct {
	newProvider func(t *testing.T) computemw.Provider
	opts        ProviderSuiteOptions
}

type providerCase struct {
	name string
	skip string // non-empty: skipped with this reason
	run  func(t *testing.T)
}

func (s *providerSuite) cases() []providerCase {
	cs := []providerCase{
		{name: "CreateIdentity", run: s.testCreateIdentity},
		{name: "ExecEcho", run: s.testExecEcho},
		{name: "ExecNonZeroExitIsNotAnError", run: s.testExecNonZeroExit},
		{name: "ExecStderr", run: s.testExecStderr},
		{name: "ExecStdin", run: s.testExecStdin},
		{name: "ExecEnv", run: s.testExecEnv},
		{name: "ExecCwd", run: s.testExecCwd},
		{name: "ExecTimeout", run: s.testExecTimeout},
		{name: "ExecOutputCap", run: s.testExecOutputCap},
		{name: "ExecConcurrent", run: s.testExecConcurrent},
		{name: "RunCodeUnknownLanguage", run: s.testRunCodeUnknownLanguage},
		{name: "FilesRoundtrip", run: s.testFilesRoundtrip},
		{name: "FilesListAndStat", run: s.testFilesListAndStat},
		{name: "FilesMkdirRemove", run: s.testFilesMkdirRemove},
		{name: "FilesWrittenVisibleToExec", run: s.testFilesVisibleToExec},
		{name: "FilesCreatedByExecReadable", run: s.testFilesCreatedByExec},
		{name: "FilesMissing", run: s.testFilesMissing},
		{name: "FilesBadPaths", run: s.testFilesBadPaths},
		{name: "Usage", run: s.testUsage},
		{name: "DestroyIdempotent", run: s.testDestroy},
	}
	for i := range cs {
		switch cs[i].name {
		case "ExecTimeout":
			if s.opts.SkipTimeout {
				cs[i].skip = "ProviderSuiteOptions.SkipTimeout is set"
			}
		case "ExecOutputCap":
			if s.opts.MaxOutputBytes <= 0 {
				cs[i].skip = "ProviderSuiteOptions.MaxOutputBytes is 0"
			}
		}
	}
	langs := make([]string, 0, len(s.opts.Languages))
	for l := range s.opts.Languages {
		langs = append(langs, l)
	}
	slices.Sort(langs)
	for _, lang := range langs {
		pc := s.opts.Languages[lang]
		cs = append(cs, providerCase{name: "RunCode_" + lang, run: func(t *testing.T) { s.testRunCode(t, lang, pc) }})
	}
	return cs
}

// ---- helpers ----

// ctx is the context of one operation.
func (s *providerSuite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), s.opts.OperationTimeout)
	t.Cleanup(cancel)
	return ctx
}

// sandbox creates a provider and a sandbox, destroyed when the test ends.
func (s *providerSuite) sandbox(t *testing.T, opts computemw.CreateOptions) (computemw.Provider, computemw.Sandbox) {
	t.Helper()
	p := s.newProvider(t)
	if p == nil {
		t.Fatal("newProvider returned nil")
	}
	return p, s.create(t, p, opts)
}

// create makes a sandbox on p and registers its Destroy with t.Cleanup.
func (s *providerSuite) create(t *testing.T, p computemw.Provider, opts computemw.CreateOptions) computemw.Sandbox {
	t.Helper()
	sb, err := p.Create(s.ctx(t), opts)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if sb == nil {
		t.Fatal("Create returned a nil sandbox and a nil error")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.OperationTimeout)
		defer cancel()
		if err := sb.Destroy(ctx); err != nil {
			t.Errorf("Destroy %s: %v", sb.ID(), err)
		}
	})
	return sb
}

// exec runs a command that must succeed (nil error, exit status 0).
func (s *providerSuite) exec(t *testing.T, sb computemw.Sandbox, command string, opts computemw.ExecOptions) *computemw.Result {
	t.Helper()
	res, err := sb.Exec(s.ctx(t), command, opts)
	if err != nil {
		t.Fatalf("Exec(%q): %v", command, err)
	}
	if res == nil {
		t.Fatalf("Exec(%q) returned a nil Result and a nil error", command)
	}
	if res.ExitCode != 0 {
		t.Fatalf("Exec(%q): exit %d, stdout %q, stderr %q", command, res.ExitCode, res.Stdout, res.Stderr)
	}
	return res
}

// psWantCode fails unless err is a computemw error of class code.
func psWantCode(t *testing.T, what string, err error, code computemw.Code) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got nil error, want %s", what, code)
		return
	}
	if got := computemw.AsError(err).Code; got != code {
		t.Errorf("%s: got error %v (code %s), want code %s", what, err, got, code)
	}
}

// ---- cases ----

func (s *providerSuite) testCreateIdentity(t *testing.T) {
	p, a := s.sandbox(t, computemw.CreateOptions{})
	if a.ID() == "" {
		t.Error("ID() is empty")
	}
	if a.Provider() != p.Name() {
		t.Errorf("Provider() = %q, want the provider's Name() %q", a.Provider(), p.Name())
	}
	b := s.create(t, p, computemw.CreateOptions{})
	if a.ID() == b.ID() {
		t.Errorf("two sandboxes share the ID %q", a.ID())
	}
}

func (s *providerSuite) testExecEcho(t *testing.T) {
	_, sb := s.sandbox(t, computemw.CreateOptions{})
	res := s.exec(t, sb, "echo hello", computemw.ExecOptions{})
	if res.Stdout != "hello\n" {
		t.Errorf("stdout = %q, want %q", res.Stdout, "hello\n")
	}
	if res.Stderr != "" {
		t.Errorf("stderr = %q, want empty", res.Stderr)
	}
	if res.Truncated {
		t.Error("Truncated is true for 6 bytes of output")
	}
}

func (s *providerSuite) testExecNonZeroExit(t *testing.T) {
	_, sb := s.sandbox(t, computemw.CreateOptions{})
	res, err := sb.Exec(s.ctx(t), "echo partial; exit 3", computemw.ExecOptions{})
	if err != nil {
		t.Fatalf("a program exiting non-zero must not be an error; got %v", err)
	}
	if res == nil || res.ExitCode != 3 {
		t.Fatalf("got result %+v, want ExitCode 3", res)
	}
	if res.Stdout != "partial\n" {
		t.Errorf("stdout = %q, want %q", res.Stdout, "partial\n")
	}
}

func (s *providerSuite) testExecStderr(t *testing.T) {
	_, sb := s.sandbox(t, computemw.CreateOptions{})
	res := s.exec(t, sb, "echo out; echo oops >&2", computemw.ExecOptions{})
	if res.Stdout != "out\n" || res.Stderr != "oops\n" {
		t.Errorf("stdout %q, stderr %q; want %q and %q", res.Stdout, res.Stderr, "out\n", "oops\n")
	}
}

func (s *providerSuite) testExecStdin(t *testing.T) {
	_, sb := s.sandbox(t, computemw.CreateOptions{})
	const in = "line one\nline two\n"
	res := s.exec(t, sb, "cat", computemw.ExecOptions{Stdin: strings.NewReader(in)})
	if res.Stdout != in {
		t.Errorf("stdout = %q, want stdin echoed back %q", res.Stdout, in)
	}
}

func (s *providerSuite) testExecEnv(t *testing.T) {
	_, sb := s.sandbox(t, computemw.CreateOptions{Env: map[string]string{"SUITE_CREATE_VAR": "from-create"}})
	res := s.exec(t, sb, `echo "$SUITE_CREATE_VAR|$SUITE_EXEC_VAR"`, computemw.ExecOptions{
		Env: map[string]string{"SUITE_EXEC_VAR": "from exec"},
	})
	if want := "from-create|from exec\n"; res.Stdout != want {
		t.Errorf("stdout = %q, want %q", res.Stdout, want)
	}
}

func (s *providerSuite) testExecCwd(t *testing.T) {
	_, sb := s.sandbox(t, computemw.CreateOptions{})
	s.exec(t, sb, "mkdir -p work/here", computemw.ExecOptions{})
	res := s.exec(t, sb, "pwd", computemw.ExecOptions{Cwd: "work/here"})
	if got := strings.TrimSpace(res.Stdout); !strings.HasSuffix(got, "/work/here") {
		t.Errorf("pwd with Cwd %q = %q, want a path ending in /work/here", "work/here", got)
	}
}

func (s *providerSuite) testExecTimeout(t *testing.T) {
	_, sb := s.sandbox(t, computemw.CreateOptions{})
	start := time.Now()
	res, err := sb.Exec(s.ctx(t), "echo before; sleep 30", computemw.ExecOptions{Timeout: 300 * time.Millisecond})
	elapsed := time.Since(start)
	if !errors.Is(err, computemw.ErrTimeout) {
		t.Errorf("got error %v, want one of class %s", err, computemw.CodeTimeout)
	}
	if elapsed > 10*time.Second {
		t.Errorf("Exec with a 300ms timeout returned after %s", elapsed)
	}
	if res == nil {
		t.Fatal("a timed-out Exec must return the partial Result; got nil")
	}
	if !strings.Contains(res.Stdout, "before") {
		t.Errorf("partial stdout = %q, want the output printed before the timeout", res.Stdout)
	}
}

func (s *providerSuite) testExecOutputCap(t *testing.T) {
	_, sb := s.sandbox(t, computemw.CreateOptions{})
	limit := s.opts.MaxOutputBytes
	cmd := fmt.Sprintf(`head -c %d /dev/zero | tr '\0' a`, 4*limit+4096)
	res, err := sb.Exec(s.ctx(t), cmd, computemw.ExecOptions{})
	if err != nil && !errors.Is(err, computemw.ErrResource) {
		t.Fatalf("Exec: %v (want nil, or an error of class %s)", err, computemw.CodeResource)
	}
	if res == nil {
		t.Fatal("nil Result")
	}
	if !res.Truncated {
		t.Error("Truncated is false for output over the cap")
	}
	if int64(len(res.Stdout)) > limit {
		t.Errorf("len(Stdout) = %d, over the cap of %d", len(res.Stdout), limit)
	}
	if strings.Trim(res.Stdout, "a") != "" {
		t.Error("the kept output is not a prefix of what the program wrote")
	}
}

func (s *providerSuite) testExecConcurrent(t *testing.T) {
	_, sb := s.sandbox(t, computemw.CreateOptions{})
	const n = 8
	ctx := s.ctx(t)
	var wg sync.WaitGroup
	results := make([]*computemw.Result, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = sb.Exec(ctx, fmt.Sprintf("echo job-%d", i), computemw.ExecOptions{})
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("job %d: %v", i, errs[i])
			continue
		}
		if want := fmt.Sprintf("job-%d\n", i); results[i].Stdout != want || results[i].ExitCode != 0 {
			t.Errorf("job %d: stdout %q exit %d, want %q exit 0", i, results[i].Stdout, results[i].ExitCode, want)
		}
	}
}

func (s *providerSuite) testRunCode(t *testing.T, lang string, pc ProgramCase) {
	_, sb := s.sandbox(t, computemw.CreateOptions{})
	res, err := sb.RunCode(s.ctx(t), lang, pc.Code, computemw.ExecOptions{})
	if err != nil {
		t.Fatalf("RunCode(%s): %v", lang, err)
	}
	if res.ExitCode != 0 || res.Stdout != pc.Stdout {
		t.Errorf("RunCode(%s): exit %d, stdout %q, stderr %q; want exit 0, stdout %q",
			lang, res.ExitCode, res.Stdout, res.Stderr, pc.Stdout)
	}
}

func (s *providerSuite) testRunCodeUnknownLanguage(t *testing.T) {
	_, sb := s.sandbox(t, computemw.CreateOptions{})
	_, err := sb.RunCode(s.ctx(t), "no-such-language-42", "print(1)", computemw.ExecOptions{})
	psWantCode(t, "RunCode with an unknown language", err, computemw.CodeExecution)
}

func (s *providerSuite) testFilesRoundtrip(t *testing.T) {
	_, sb := s.sandbox(t, computemw.CreateOptions{})
	ctx := s.ctx(t)
	binary := make([]byte, 0, 512)
	for i := range 512 {
		binary = append(binary, byte(i))
	}
	for _, tc := range []struct {
		name, path string
		data       []byte
	}{
		{"text", "hello.txt", []byte("hello, sandbox\n")},
		{"binary", "blob.bin", binary},
		{"empty", "empty", []byte{}},
		{"nested dirs created", "a/b/c/deep.txt", []byte("deep")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := sb.WriteFile(ctx, tc.path, tc.data); err != nil {
				t.Fatalf("WriteFile(%q): %v", tc.path, err)
			}
			got, err := sb.ReadFile(ctx, tc.path)
			if err != nil {
				t.Fatalf("ReadFile(%q): %v", tc.path, err)
			}
			if !bytes.Equal(got, tc.data) {
				t.Errorf("ReadFile(%q) = %q, want %q", tc.path, got, tc.data)
			}
		})
	}
	// Overwriting replaces the whole content.
	if err := sb.WriteFile(ctx, "hello.txt", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if got, err := sb.ReadFile(ctx, "hello.txt"); err != nil || string(got) != "hi" {
		t.Errorf("after overwrite: ReadFile = %q, %v; want %q", got, err, "hi")
	}
}

func (s *providerSuite) testFilesListAndStat(t *testing.T) {
	_, sb := s.sandbox(t, computemw.CreateOptions{})
	ctx := s.ctx(t)
	if err := sb.WriteFile(ctx, "listing/a.txt", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := sb.Mkdir(ctx, "listing/sub"); err != nil {
		t.Fatal(err)
	}
	files, err := sb.ListFiles(ctx, "listing")
	if err != nil {
		t.Fatalf("ListFiles: %v", err)
	}
	byName := map[string]computemw.FileInfo{}
	for _, f := range files {
		byName[f.Name] = f
	}
	if len(files) != 2 {
		t.Errorf("ListFiles(listing) = %+v, want exactly a.txt and sub", files)
	}
	if f, ok := byName["a.txt"]; !ok || f.Type != "file" || f.Size != 5 || !strings.HasSuffix(f.Path, "listing/a.txt") {
		t.Errorf("a.txt listed as %+v (present %v), want type file, size 5, path ending listing/a.txt", f, ok)
	}
	if f, ok := byName["sub"]; !ok || f.Type != "directory" {
		t.Errorf("sub listed as %+v (present %v), want type directory", f, ok)
	}

	fi, err := sb.Stat(ctx, "listing/a.txt")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if fi.Name != "a.txt" || fi.Type != "file" || fi.Size != 5 {
		t.Errorf("Stat(listing/a.txt) = %+v, want name a.txt, type file, size 5", fi)
	}
	if fi.Modified.IsZero() {
		t.Error("Stat: Modified is zero")
	}
	if fi, err := sb.Stat(ctx, "listing/sub"); err != nil || fi.Type != "directory" {
		t.Errorf("Stat(listing/sub) = %+v, %v; want type directory", fi, err)
	}
	_, err = sb.Stat(ctx, "listing/missing")
	psWantCode(t, "Stat of a missing file", err, computemw.CodeNotFound)
}

func (s *providerSuite) testFilesMkdirRemove(t *testing.T) {
	_, sb := s.sandbox(t, computemw.CreateOptions{})
	ctx := s.ctx(t)
	if err := sb.Mkdir(ctx, "m1/m2/m3"); err != nil {
		t.Fatalf("Mkdir with missing parents: %v", err)
	}
	if err := sb.Mkdir(ctx, "m1/m2/m3"); err != nil {
		t.Errorf("Mkdir of an existing directory: %v", err)
	}
	s.exec(t, sb, "test -d m1/m2/m3", computemw.ExecOptions{})
	if err := sb.WriteFile(ctx, "m1/m2/file.txt", []byte("x")); err != nil {
		t.Fatal(err)
	}

	if err := sb.Remove(ctx, "m1/m2/file.txt"); err != nil {
		t.Fatalf("Remove(file): %v", err)
	}
	_, err := sb.Stat(ctx, "m1/m2/file.txt")
	psWantCode(t, "Stat after Remove", err, computemw.CodeNotFound)

	if err := sb.Remove(ctx, "m1"); err != nil {
		t.Fatalf("Remove(directory tree): %v", err)
	}
	_, err = sb.Stat(ctx, "m1")
	psWantCode(t, "Stat after removing the tree", err, computemw.CodeNotFound)
	res, err := sb.Exec(ctx, "test -e m1", computemw.ExecOptions{})
	if err != nil || res.ExitCode == 0 {
		// What each side sees, to tell a stale view from a wrong status.
		inside, _ := sb.Exec(ctx, "ls -la; echo; grep -i workspace /proc/self/mountinfo", computemw.ExecOptions{})
		listed, lerr := sb.ListFiles(ctx, ".")
		t.Errorf("the removed tree is still visible to Exec (result %+v, error %v); the sandbox sees %+v; the file API lists %+v (%v)",
			res, err, inside, listed, lerr)
	}
}

func (s *providerSuite) testFilesVisibleToExec(t *testing.T) {
	_, sb := s.sandbox(t, computemw.CreateOptions{})
	if err := sb.WriteFile(s.ctx(t), "from-api.txt", []byte("written by WriteFile")); err != nil {
		t.Fatal(err)
	}
	res := s.exec(t, sb, "cat from-api.txt", computemw.ExecOptions{})
	if res.Stdout != "written by WriteFile" {
		t.Errorf("cat from-api.txt = %q", res.Stdout)
	}
	// Sandboxed code can change a file the API wrote.
	s.exec(t, sb, "echo appended >> from-api.txt", computemw.ExecOptions{})
}

func (s *providerSuite) testFilesCreatedByExec(t *testing.T) {
	_, sb := s.sandbox(t, computemw.CreateOptions{})
	s.exec(t, sb, "mkdir -p out && printf 'made by exec' > out/made.txt", computemw.ExecOptions{})
	got, err := sb.ReadFile(s.ctx(t), "out/made.txt")
	if err != nil || string(got) != "made by exec" {
		t.Errorf("ReadFile(out/made.txt) = %q, %v; want %q", got, err, "made by exec")
	}
}

func (s *providerSuite) testFilesMissing(t *testing.T) {
	_, sb := s.sandbox(t, computemw.CreateOptions{})
	_, err := sb.ReadFile(s.ctx(t), "does-not-exist.txt")
	if !errors.Is(err, computemw.ErrNotFound) {
		t.Errorf("ReadFile of a missing file: got %v, want an error of class %s", err, computemw.CodeNotFound)
	}
}

func (s *providerSuite) testFilesBadPaths(t *testing.T) {
	_, sb := s.sandbox(t, computemw.CreateOptions{})
	ctx := s.ctx(t)
	for _, p := range []string{"../x", "/etc/passwd", "a/../../x", "../../../../etc/passwd"} {
		t.Run(p, func(t *testing.T) {
			_, err := sb.ReadFile(ctx, p)
			psWantCode(t, "ReadFile("+p+")", err, computemw.CodeBadRequest)
			err = sb.WriteFile(ctx, p, []byte("x"))
			psWantCode(t, "WriteFile("+p+")", err, computemw.CodeBadRequest)
			_, err = sb.ListFiles(ctx, p)
			psWantCode(t, "ListFiles("+p+")", err, computemw.CodeBadRequest)
			err = sb.Remove(ctx, p)
			psWantCode(t, "Remove("+p+")", err, computemw.CodeBadRequest)
		})
	}
}

func (s *providerSuite) testUsage(t *testing.T) {
	_, sb := s.sandbox(t, computemw.CreateOptions{})
	const n = 3
	for range n {
		s.exec(t, sb, "true", computemw.ExecOptions{})
	}
	u, err := sb.Usage(s.ctx(t))
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	if u.Executions < n {
		t.Errorf("Usage().Executions = %d after %d executions", u.Executions, n)
	}
}

func (s *providerSuite) testDestroy(t *testing.T) {
	_, sb := s.sandbox(t, computemw.CreateOptions{})
	ctx := s.ctx(t)
	if err := sb.WriteFile(ctx, "f.txt", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := sb.Destroy(ctx); err != nil {
		t.Fatalf("first Destroy: %v", err)
	}
	if err := sb.Destroy(ctx); err != nil {
		t.Errorf("second Destroy: %v (Destroy must be idempotent)", err)
	}
	if _, err := sb.Exec(ctx, "echo alive", computemw.ExecOptions{}); err == nil {
		t.Error("Exec after Destroy succeeded")
	}
	if _, err := sb.ReadFile(ctx, "f.txt"); err == nil {
		t.Error("ReadFile after Destroy succeeded")
	}
}
