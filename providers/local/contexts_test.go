//go:build linux

package local_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/local"
)

// contextRunner returns sb's code contexts.
func contextRunner(t *testing.T, sb computemw.Sandbox) computemw.ContextRunner {
	t.Helper()
	cr, ok := sb.(computemw.ContextRunner)
	if !ok {
		t.Fatal("a local sandbox is not a ContextRunner")
	}
	return cr
}

// newContext creates a context of language in sb.
func newContext(t *testing.T, cr computemw.ContextRunner, language string) string {
	t.Helper()
	c, err := cr.CreateContext(t.Context(), computemw.ContextOptions{Language: language})
	if err != nil {
		t.Fatalf("CreateContext(%s): %v", language, err)
	}
	if c.ID == "" || c.Language != language {
		t.Fatalf("CreateContext = %+v", c)
	}
	return c.ID
}

// runIn runs code in a context and fails on an error (not on an
// exception of the code's).
func runIn(t *testing.T, cr computemw.ContextRunner, id, code string) *computemw.ContextResult {
	t.Helper()
	res, err := cr.RunInContext(t.Context(), id, code, computemw.ExecOptions{})
	if err != nil {
		t.Fatalf("RunInContext(%q): %v", code, err)
	}
	return res
}

// signalWriter closes seen once what was written contains want.
type signalWriter struct {
	want string
	mu   sync.Mutex
	buf  strings.Builder
	once sync.Once
	seen chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

// driverProcs lists the sandbox's processes that run a context driver.
func driverProcs(t *testing.T, sb computemw.Sandbox) []computemw.ProcessInfo {
	t.Helper()
	procs, err := sb.(computemw.ProcessManager).Processes(t.Context())
	if err != nil {
		t.Fatalf("Processes: %v", err)
	}
	var out []computemw.ProcessInfo
	for _, p := range procs {
		if strings.Contains(p.Command, "computemw-done") {
			out = append(out, p)
		}
	}
	return out
}

// TestContextKeepsState: a variable, an import and a function defined in
// one execution are there in the next; the last expression's value is the
// main result; an exception is a typed error with its traceback.
func TestContextKeepsState(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	cr := contextRunner(t, sb)
	id := newContext(t, cr, "python")

	runIn(t, cr, id, "x = 41\nimport math\ndef twice(v):\n    return 2 * v\n")
	res := runIn(t, cr, id, "print(x + 1)")
	if res.Stdout != "42\n" || res.Error != nil || res.ExitCode != 0 {
		t.Fatalf("print(x + 1): stdout %q, error %+v, exit %d", res.Stdout, res.Error, res.ExitCode)
	}
	res = runIn(t, cr, id, "import sys\nprint('to stderr', file=sys.stderr)\ntwice(math.floor(10.5))")
	if res.Stderr != "to stderr\n" || len(res.Results) != 1 || !res.Results[0].IsMain || res.Results[0].Data["text/plain"] != "20" {
		t.Fatalf("last expression: stderr %q, results %+v", res.Stderr, res.Results)
	}
	res = runIn(t, cr, id, "def f():\n    return undefined_name\nf()")
	if res.Error == nil || res.Error.Name != "NameError" || res.ExitCode != 1 ||
		!strings.Contains(res.Error.Traceback, "line 2, in f") || !strings.Contains(res.Error.Traceback, "return undefined_name") {
		t.Fatalf("exception: %+v (exit %d)", res.Error, res.ExitCode)
	}
	if res := runIn(t, cr, id, "x"); len(res.Results) != 1 || res.Results[0].Data["text/plain"] != "41" {
		t.Fatalf("after an exception: %+v", res.Results)
	}
}

// TestContextInterrupt: an execution that never ends, interrupted, ends
// with KeyboardInterrupt, and the context keeps its state.
func TestContextInterrupt(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	cr := contextRunner(t, sb)
	id := newContext(t, cr, "python")
	runIn(t, cr, id, "x = 41")

	w := &signalWriter{want: "looping", seen: make(chan struct{})}
	type outcome struct {
		res *computemw.ContextResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := cr.RunInContext(t.Context(), id, "print('looping', flush=True)\nwhile True: pass", computemw.ExecOptions{Stdout: w})
		done <- outcome{res, err}
	}()
	<-w.seen
	if err := cr.InterruptContext(t.Context(), id); err != nil {
		t.Fatalf("InterruptContext: %v", err)
	}
	o := <-done
	if o.err != nil || o.res.Error == nil || o.res.Error.Name != "KeyboardInterrupt" {
		t.Fatalf("interrupted execution: %+v, %v", o.res, o.err)
	}
	if res := runIn(t, cr, id, "print(x + 1)"); res.Stdout != "42\n" {
		t.Fatalf("after the interrupt: %q", res.Stdout)
	}
}

// TestContextRestartAndDelete: a restart loses the state and keeps the
// context; a delete ends its interpreter; an unknown context is NOT_FOUND;
// the cap on contexts holds; destroying the sandbox ends the rest.
func TestContextRestartAndDelete(t *testing.T) {
	parent := cgroupTestRoot + "/" + randHex()
	p := newTestProvider(t, local.Config{MaxContexts: 2, CgroupParent: parent})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	cr := contextRunner(t, sb)
	a := newContext(t, cr, "python")
	b := newContext(t, cr, "python")
	_, err := cr.CreateContext(t.Context(), computemw.ContextOptions{Language: "python"})
	wantCode(t, err, computemw.CodeResource)
	if got := len(driverProcs(t, sb)); got != 2 {
		t.Fatalf("%d drivers running, want 2", got)
	}

	runIn(t, cr, a, "x = 1")
	if err := cr.RestartContext(t.Context(), a); err != nil {
		t.Fatalf("RestartContext: %v", err)
	}
	if res := runIn(t, cr, a, "x"); res.Error == nil || res.Error.Name != "NameError" {
		t.Fatalf("after a restart x is %+v, %+v", res.Results, res.Error)
	}
	if err := cr.DeleteContext(t.Context(), b); err != nil {
		t.Fatalf("DeleteContext: %v", err)
	}
	if got := len(driverProcs(t, sb)); got != 1 {
		t.Fatalf("%d drivers running after a delete, want 1", got)
	}
	_, err = cr.RunInContext(t.Context(), b, "1", computemw.ExecOptions{})
	wantCode(t, err, computemw.CodeNotFound)
	wantCode(t, cr.DeleteContext(t.Context(), "ctx-unknown"), computemw.CodeNotFound)
	wantCode(t, cr.InterruptContext(t.Context(), "ctx-unknown"), computemw.CodeNotFound)
	list, err := cr.Contexts(t.Context())
	if err != nil || len(list) != 1 || list[0].ID != a {
		t.Fatalf("Contexts = %+v, %v", list, err)
	}
	// Destroying the sandbox ends a's interpreter: no driver is left on
	// the host (and the provider's leak check finds no process at all).
	// The drivers on the host, of this test's provider (its cgroups).
	hostDrivers := func() (n int) {
		for _, pr := range listProcs() {
			mine := slices.ContainsFunc(pr.cgroups, func(cg string) bool { return strings.HasPrefix(cg+"/", "/"+parent+"/") })
			if mine && strings.Contains(strings.Join(pr.cmdline, " "), "computemw-done") {
				n++
			}
		}
		return n
	}
	if n := hostDrivers(); n != 1 {
		t.Fatalf("%d drivers seen on the host before the sandbox's end, want 1", n)
	}
	if err := sb.Destroy(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := hostDrivers(); n != 0 {
		t.Errorf("%d drivers outlived their sandbox", n)
	}
}

// TestContextTimeLimit: an execution that cannot finish stops at its
// time limit; the context still runs the next one.
func TestContextTimeLimit(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	cr := contextRunner(t, sb)
	id := newContext(t, cr, "python")
	runIn(t, cr, id, "x = 41")
	res, err := cr.RunInContext(t.Context(), id, "while True: pass", computemw.ExecOptions{Timeout: 200e6})
	wantCode(t, err, computemw.CodeTimeout)
	if res == nil {
		t.Fatal("no result with the timeout")
	}
	if res := runIn(t, cr, id, "x"); len(res.Results) != 1 || res.Results[0].Data["text/plain"] != "41" {
		t.Fatalf("after the time limit: %+v %+v", res.Results, res.Error)
	}
}

// TestContextNode: the JavaScript context keeps its state too.
func TestContextNode(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	if !hasLanguage(p, "node") {
		t.Skip("node is not installed")
	}
	sb := newSandbox(t, p, computemw.CreateOptions{})
	cr := contextRunner(t, sb)
	id := newContext(t, cr, "node")
	runIn(t, cr, id, "var x = 41; const os = require('os');")
	res := runIn(t, cr, id, "console.log(x + 1); ({a: x})")
	if res.Stdout != "42\n" || len(res.Results) != 1 || res.Results[0].Data["application/json"] != `{"a":41}` {
		t.Fatalf("node: stdout %q, results %+v, error %+v", res.Stdout, res.Results, res.Error)
	}
	res = runIn(t, cr, id, "null.f")
	if res.Error == nil || res.Error.Name != "TypeError" || !strings.Contains(res.Error.Traceback, "<cell-") || strings.Contains(res.Error.Traceback, "[eval]") {
		t.Fatalf("node exception: %+v", res.Error)
	}
}

// matplotlibTemplate is the python-data template's directory, once it
// has matplotlib (templates built before it had are rebuilt by make
// template-python-data).
func matplotlibTemplate(t *testing.T) string {
	t.Helper()
	dir, ok := templateWithMatplotlib(t)
	computemwtest.Require(t, ok, "the python-data template has no matplotlib (rebuild it: make template-python-data): "+dir)
	return dir
}

// templateWithMatplotlib is where the python-data template is, and
// whether it is built with matplotlib.
func templateWithMatplotlib(t *testing.T) (string, bool) {
	t.Helper()
	dir := os.Getenv("COMPUTEMW_PYTHON_DATA_TEMPLATE")
	if dir == "" {
		dir = filepath.Join("..", "..", ".cache", "templates", "python-data")
	}
	b, err := os.ReadFile(filepath.Join(dir, "usr/share/computemw-template/packages"))
	return dir, err == nil && strings.Contains(string(b), "\npython3-matplotlib ")
}

// hasLanguage reports whether the provider runs language.
func hasLanguage(p *local.Provider, language string) bool {
	for _, l := range p.Languages() {
		if l == language {
			return true
		}
	}
	return false
}

// TestContextMatplotlib: a plot on the python-data template comes back as
// an image/png result that decodes as a PNG.
func TestContextMatplotlib(t *testing.T) {
	dir := matplotlibTemplate(t)
	p := newTestProvider(t, local.Config{Templates: map[string]string{"python-data": dir}})
	sb := newSandbox(t, p, computemw.CreateOptions{Template: "python-data"})
	cr := contextRunner(t, sb)
	id := newContext(t, cr, "python")
	res := runIn(t, cr, id, "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.title('squares')\nplt.show()")
	if res.Error != nil {
		t.Fatalf("plot: %+v", res.Error)
	}
	var pngs []string
	for _, r := range res.Results {
		if b, ok := r.Data["image/png"]; ok {
			pngs = append(pngs, b)
		}
	}
	if len(pngs) != 1 {
		t.Fatalf("%d image/png results, want 1: %+v", len(pngs), res.Results)
	}
	raw, err := base64.StdEncoding.DecodeString(pngs[0])
	if err != nil {
		t.Fatalf("image/png is not base64: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("image/png does not decode: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
		t.Fatalf("image of %v", b)
	}
}

// TestContextStubbornCode: code that swallows the interrupt is stopped at
// its time limit all the same — its interpreter is killed, with what it
// started — and the next execution gets a fresh one.
func TestContextStubbornCode(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	cr := contextRunner(t, sb)
	id := newContext(t, cr, "python")
	runIn(t, cr, id, "x = 41\nimport subprocess\nchild = subprocess.Popen(['sleep', '1000'])")
	stubborn := "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass"
	_, err := cr.RunInContext(t.Context(), id, stubborn, computemw.ExecOptions{Timeout: 200e6})
	wantCode(t, err, computemw.CodeTimeout)
	if got := driverProcs(t, sb); len(got) != 0 {
		t.Fatalf("the stubborn interpreter is still there: %+v", got)
	}
	procs, err := sb.(computemw.ProcessManager).Processes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if strings.Contains(p.Command, "sleep") {
			t.Fatalf("what the killed interpreter started is still there: %+v", p)
		}
	}
	res := runIn(t, cr, id, "x")
	if res.Error == nil || res.Error.Name != "NameError" {
		t.Fatalf("after a kill, x is %+v %+v", res.Results, res.Error)
	}
}

// TestContextSuite runs the contexts' conformance suite on local sandboxes.
func TestContextSuite(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	computemwtest.ContextSuite(t, func(t *testing.T) computemw.Sandbox {
		return newSandbox(t, p, computemw.CreateOptions{})
	})
}

// TestContextSuiteGoverned runs it on the kit's governed sandboxes, as
// transports see them.
func TestContextSuiteGoverned(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{p}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kit.Close(context.Background()) })
	computemwtest.ContextSuite(t, func(t *testing.T) computemw.Sandbox {
		sb, err := kit.Create(t.Context(), "local", computemw.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sb.Destroy(context.Background()) })
		return sb
	})
}
