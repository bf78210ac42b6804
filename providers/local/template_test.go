//go:build linux

package local_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/local"
)

// testTemplateEnv, when set, makes every test provider run its sandboxes
// on that template directory (TestContainmentOnTemplate sets it for a
// second run of the containment suite).
const testTemplateEnv = "COMPUTEMW_TEST_TEMPLATE"

// onTestTemplate applies testTemplateEnv to a test provider's config.
func onTestTemplate(cfg *local.Config) {
	dir := os.Getenv(testTemplateEnv)
	if dir == "" || cfg.Templates != nil || cfg.InsecureNoNamespaces {
		return
	}
	cfg.Templates = map[string]string{"test-template": dir}
	cfg.DefaultTemplate = "test-template"
}

// pythonDataTemplate is the sample template's directory, built by make
// template-python-data (make setup-test builds it: about 40 seconds,
// once). The test is skipped without it, and fails under CI, whose setup
// builds it.
func pythonDataTemplate(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("COMPUTEMW_PYTHON_DATA_TEMPLATE")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(d, ".cache", "templates", "python-data")
				break
			}
			if filepath.Dir(d) == d {
				t.Fatal("no go.mod above the test's directory")
			}
		}
	}
	_, err := os.Stat(filepath.Join(dir, "usr/share/computemw-template/packages"))
	computemwtest.Require(t, err == nil, "the python-data template is not built (run make template-python-data): "+dir)
	return dir
}

const numpyProgram = "import numpy\nprint(int(numpy.arange(6).reshape(2, 3).sum(axis=0).prod()))\n"

// A template is a root filesystem chosen per sandbox: numpy runs on the
// python-data template and fails, clearly, on the host's directories.
func TestTemplatePythonData(t *testing.T) {
	dir := pythonDataTemplate(t)
	p := newTestProvider(t, local.Config{Templates: map[string]string{"python-data": dir}})

	infos := p.Templates()
	if len(infos) != 1 || infos[0].Name != "python-data" || !slices.Contains(infos[0].Languages, "python") ||
		!slices.ContainsFunc(infos[0].Packages, func(s string) bool { return strings.HasPrefix(s, "python3-numpy ") }) {
		t.Fatalf("Templates() = %+v, want python-data with python and python3-numpy", infos)
	}
	if slices.Contains(infos[0].Languages, "go") {
		t.Errorf("the template lists go, which it does not have: %v", infos[0].Languages)
	}

	sb := newSandbox(t, p, computemw.CreateOptions{Template: "python-data"})
	res, err := sb.RunCode(t.Context(), "python", numpyProgram, computemw.ExecOptions{Timeout: time.Minute})
	if err != nil || res.ExitCode != 0 || res.Stdout != "105\n" {
		t.Fatalf("numpy on the template: %v %+v", err, res)
	}
	// Read-only, and shared: a second sandbox sees what the first could
	// not change.
	res = run(t, sb, "echo x > /usr/bin/planted; touch /usr/planted; ls /usr/bin/planted /usr/planted", computemw.ExecOptions{})
	if res.ExitCode == 0 {
		t.Errorf("a sandbox wrote into its template: %+v", res)
	}
	if _, err := os.Stat(filepath.Join(dir, "usr/planted")); err == nil {
		t.Errorf("the template directory was changed")
	}
	other := newSandbox(t, p, computemw.CreateOptions{Template: "python-data"})
	if res := run(t, other, "command -v go gcc javac; test -e /usr/lib/jvm && echo jvm; python3 -c 'import numpy'", computemw.ExecOptions{Timeout: time.Minute}); res.ExitCode != 0 || res.Stdout != "" {
		t.Errorf("the second sandbox does not see just the template: %+v", res)
	}
	// A language the template lacks is refused clearly.
	if _, err := other.RunCode(t.Context(), "go", "package main\nfunc main(){}\n", computemw.ExecOptions{}); err == nil || !strings.Contains(err.Error(), "template") {
		t.Errorf("go on the template: %v, want an error naming the template", err)
	}

	host := newSandbox(t, p, computemw.CreateOptions{})
	if _, err := exec.Command("python3", "-c", "import numpy").CombinedOutput(); err == nil {
		t.Skip("the host's python3 has numpy: the failure without the template cannot be shown")
	}
	res, err = host.RunCode(t.Context(), "python", numpyProgram, computemw.ExecOptions{Timeout: time.Minute})
	if err != nil || res.ExitCode == 0 || !strings.Contains(res.Stderr, "No module named 'numpy'") {
		t.Errorf("numpy without the template: %v %+v, want ModuleNotFoundError", err, res)
	}
}

// Templates are checked when the provider starts, and an unknown one is a
// clear error when a sandbox asks for it.
func TestTemplateErrors(t *testing.T) {
	requireBwrap(t)
	base := testBaseDir(t)
	for _, cfg := range []local.Config{
		{BaseDir: base, Templates: map[string]string{"missing": filepath.Join(t.TempDir(), "none")}},
		{BaseDir: base, Templates: map[string]string{"python": t.TempDir()}},
		{BaseDir: base, Templates: map[string]string{"empty": t.TempDir()}},
		{BaseDir: base, DefaultTemplate: "nothing"},
	} {
		if p, err := local.New(cfg); err == nil {
			_ = p.Close(t.Context())
			t.Errorf("New(%v) accepted a bad template", cfg.Templates)
		}
	}
	p := newTestProvider(t, local.Config{})
	_, err := p.Create(t.Context(), computemw.CreateOptions{Template: "no-such-template"})
	var ce *computemw.Error
	if !errors.As(err, &ce) || computemw.StatusOf(ce) != 400 {
		t.Errorf("unknown template: %v, want a 400-class error", err)
	}
}

// The containment suite passes on a template root too: it runs again, in
// a child test process whose providers all use the python-data template.
func TestContainmentOnTemplate(t *testing.T) {
	if os.Getenv(testTemplateEnv) != "" {
		t.Skip("already on a template")
	}
	dir := pythonDataTemplate(t)
	requireBwrap(t)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run", "^TestContainment", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), testTemplateEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	passed := strings.Count(string(out), "--- PASS: TestContainment")
	t.Logf("containment suite on the template: %d tests passed", passed)
	if err != nil {
		t.Fatalf("the containment suite failed on the template: %v\n%s", err, out)
	}
	if passed < 5 {
		t.Fatalf("the containment suite ran %d tests on the template:\n%s", passed, out)
	}
}

// Without namespaces nothing can be mounted: templates are refused at
// start rather than ignored.
func TestTemplateNeedsNamespaces(t *testing.T) {
	_, err := local.New(local.Config{BaseDir: testBaseDir(t), InsecureNoNamespaces: true, AllowNoCgroups: true,
		Templates: map[string]string{"t": t.TempDir()}})
	if err == nil || !strings.Contains(err.Error(), "templates need") {
		t.Errorf("New without namespaces, with a template: %v", err)
	}
}
