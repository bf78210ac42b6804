package cloudflare_test

import (
	"errors"
	"io"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/cloudflare/cloudflarefake"
)

// The provider's exchanges with the bridge, requests and answers alike,
// are valid against the bridge's own OpenAPI document: the fake checks
// every one (unknown fields and undeclared query parameters refused; the
// exec stream event by event), and this runs each operation the provider
// uses.
func TestConformanceExchanges(t *testing.T) {
	p, f := newProvider(t, nil)
	ctx := testCtx(t)
	if err := p.CheckHealth(ctx); err != nil {
		t.Fatal(err)
	}
	sb := create(t, p, computemw.CreateOptions{Env: map[string]string{"A": "1"}})
	if _, err := sb.Exec(ctx, "cat; echo err >&2", computemw.ExecOptions{Stdin: strings.NewReader("in"), Env: map[string]string{"B": "2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.RunCode(ctx, "sh", "echo hi", computemw.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("python3"); err == nil {
		if _, err := sb.RunCode(ctx, "python", "print(1)", computemw.ExecOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sb.Mkdir(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if err := sb.WriteFile(ctx, "d/f", []byte("data")); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.ReadFile(ctx, "d/f"); err != nil {
		t.Fatal(err)
	}
	rc, _, err := sb.OpenFile(ctx, "d/f")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, rc)
	rc.Close()
	if _, err := sb.ReadFile(ctx, "missing"); !errors.Is(err, computemw.ErrNotFound) {
		t.Errorf("ReadFile of a missing file: %v", err)
	}
	if _, err := sb.ListFiles(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Stat(ctx, "d/f"); err != nil {
		t.Fatal(err)
	}
	if err := sb.Remove(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if running, err := sb.Running(ctx); err != nil || !running {
		t.Fatalf("Running: %v, %v", running, err)
	}
	term, err := sb.OpenTerminal(ctx, computemw.TerminalOptions{Command: "sh", Cols: 80, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(term, "echo \"ready $A\"\n"); err != nil {
		t.Fatal(err)
	}
	readUntil(t, term, "ready 1")
	if err := term.Resize(100, 30); err != nil {
		t.Fatal(err)
	}
	if err := term.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := term.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := sb.Destroy(ctx); err != nil {
		t.Fatal(err)
	}

	ops := map[string]int{}
	checked := 0
	for _, ex := range f.Exchanges() {
		if ex.Problem != "" {
			t.Errorf("%s %s: %s", ex.Method, ex.Path, ex.Problem)
		}
		if !ex.Checked {
			t.Errorf("%s %s (%d) was not checked", ex.Method, ex.Path, ex.Status)
			continue
		}
		checked++
		ops[ex.Op]++
	}
	names := make([]string, 0, len(ops))
	for op := range ops {
		names = append(names, op)
	}
	sort.Strings(names)
	t.Logf("%d exchanges validated against the bridge's OpenAPI document, over %d operations: %s", checked, len(ops), strings.Join(names, ", "))
	for _, op := range []string{"getPoolStats", "createSandbox", "isSandboxRunning", "execCommand", "readFile", "writeFile",
		"createSession", "ptyTerminal", "deleteSession", "deleteSandbox"} {
		if ops[op] == 0 {
			t.Errorf("no validated exchange of %s", op)
		}
	}
}

// recorder is a testing.TB that keeps the fake's reports instead of
// failing the test.
type recorder struct {
	testing.TB
	msgs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, strings.TrimSpace(strings.ReplaceAll(format, "%v", "")))
	for _, a := range args {
		if e, ok := a.(error); ok {
			r.msgs = append(r.msgs, e.Error())
		}
	}
}

func (r *recorder) take() string {
	s := strings.Join(r.msgs, "\n")
	r.msgs = nil
	return s
}

// The check can fail: an exec whose one field name is changed is refused
// (400) and reported, where the same request with the bridge's name
// passes.
func TestConformanceCheckCatchesAWrongFieldName(t *testing.T) {
	rec := &recorder{TB: t}
	f := cloudflarefake.New(rec)
	c := &http.Client{}
	defer c.CloseIdleConnections()
	send := func(method, path, body string) int {
		t.Helper()
		req, err := http.NewRequest(method, f.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+cloudflarefake.APIKey)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	const id = "abcdefgh"
	if code := send("POST", "/v1/sandbox/"+id+"/exec", `{"argv":["true"],"timeout_ms":5000}`); code != 200 {
		t.Fatalf("the right exec: %d %s", code, rec.take())
	}
	if r := rec.take(); r != "" {
		t.Fatalf("the right exec reported %q", r)
	}
	if code := send("POST", "/v1/sandbox/"+id+"/exec", `{"argv":["true"],"timeoutMs":5000}`); code != 400 {
		t.Errorf("the wrong exec answered %d, want 400", code)
	}
	if r := rec.take(); !strings.Contains(r, "timeoutMs") {
		t.Errorf("the wrong exec reported %q, want an error naming timeoutMs", r)
	}
	if code := send("DELETE", "/v1/sandbox/"+id, ""); code != 204 {
		t.Errorf("delete: %d", code)
	}
	exs := f.Exchanges()
	if len(exs) != 3 || !exs[0].Checked || exs[1].Checked || exs[1].Problem == "" || !exs[2].Checked {
		t.Errorf("exchanges %+v: want the first and last checked, the second with a problem", exs)
	}
}
