package e2b_test

import (
	"errors"
	"io"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/e2b/e2bfake"
)

// The provider's requests to E2B are valid against the vendor's API
// descriptions: the fake checks every one (the control plane's and envd's
// OpenAPI files, unknown fields and undeclared query parameters refused;
// each RPC decoded with the message types of the vendor's protos, unknown
// fields refused), and this runs each operation the provider uses. The
// fake's own REST answers, errors included, are checked against the
// responses each operation declares.
func TestConformanceExchanges(t *testing.T) {
	p, f := newProvider(t, nil)
	ctx := testCtx(t)
	if err := p.CheckHealth(ctx); err != nil {
		t.Fatal(err)
	}
	sb := create(t, p, computemw.CreateOptions{Env: map[string]string{"A": "1"}, Metadata: map[string]string{"k": "v"}})
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
	if _, err := sb.ListFiles(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Stat(ctx, "d/f"); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Stat(ctx, "missing"); !errors.Is(err, computemw.ErrNotFound) {
		t.Errorf("Stat of a missing file: %v", err)
	}
	if err := sb.Move(ctx, "d/f", "d/g"); err != nil {
		t.Fatal(err)
	}
	if err := sb.Remove(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	term, err := sb.OpenTerminal(ctx, computemw.TerminalOptions{Command: "sh", Cols: 80, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(term, "echo ready\n"); err != nil {
		t.Fatal(err)
	}
	readUntil(t, term, "ready")
	if err := term.Resize(100, 30); err != nil {
		t.Fatal(err)
	}
	if err := term.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := term.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := sb.SetTimeout(ctx, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Info(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Usage(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.List(ctx, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	again, err := p.Connect(ctx, sb.ID())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.Exec(ctx, "true", computemw.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := sb.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Get(ctx, sb.ID()); !errors.Is(err, computemw.ErrNotFound) {
		t.Errorf("Get once destroyed: %v", err)
	}
	other := create(t, p, computemw.CreateOptions{})
	if err := p.Kill(ctx, other.ID()); err != nil {
		t.Fatal(err)
	}

	ops := map[string]int{}
	checked := 0
	for _, ex := range f.Exchanges() {
		if ex.Problem != "" {
			t.Errorf("%s %s%s: %s", ex.Method, ex.Host, ex.Path, ex.Problem)
		}
		if !ex.Checked {
			t.Errorf("%s %s%s (%d) was not checked", ex.Method, ex.Host, ex.Path, ex.Status)
			continue
		}
		if rpc := strings.Contains(ex.Op, "/") && !strings.Contains(ex.Op, " "); !rpc && !ex.AnswerChecked {
			t.Errorf("%s %s%s: the answer %d was not checked", ex.Method, ex.Host, ex.Path, ex.Status)
		}
		checked++
		ops[ex.Op]++
	}
	names := make([]string, 0, len(ops))
	for op := range ops {
		names = append(names, op)
	}
	sort.Strings(names)
	t.Logf("%d exchanges validated against the vendor's API descriptions, over %d operations: %s", checked, len(ops), strings.Join(names, ", "))
	for _, op := range []string{
		"GET /v2/sandboxes", "POST /sandboxes", "GET /sandboxes/{sandboxID}", "DELETE /sandboxes/{sandboxID}",
		"POST /sandboxes/{sandboxID}/timeout", "POST /sandboxes/{sandboxID}/connect", "GET /sandboxes/{sandboxID}/metrics",
		"GET /files", "POST /files",
		"process.Process/Start", "process.Process/SendInput", "process.Process/CloseStdin",
		"process.Process/SendSignal", "process.Process/Update",
		"filesystem.Filesystem/Stat", "filesystem.Filesystem/ListDir", "filesystem.Filesystem/MakeDir",
		"filesystem.Filesystem/Move", "filesystem.Filesystem/Remove",
	} {
		if ops[op] == 0 {
			t.Errorf("no validated exchange of %s", op)
		}
	}
}

// The check can fail: a create whose one field name is changed is
// refused (400) and reported, where the same request with the vendor's
// name passes; an RPC with a field its message type does not have is
// refused the same way.
func TestConformanceCheckCatchesAWrongFieldName(t *testing.T) {
	rec := &recorder{TB: t}
	f := e2bfake.New(rec)
	c := f.Client()
	defer c.CloseIdleConnections()
	send := func(url, body string, header map[string]string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	key := map[string]string{"X-API-Key": f.APIKey()}
	if code := send(f.APIURL()+"/sandboxes", `{"templateID":"base","timeout":30,"envVars":{}}`, key); code != http.StatusCreated {
		t.Fatalf("the right create: %d %s", code, rec.reported())
	}
	if r := rec.reported(); r != "" {
		t.Fatalf("the right create reported %q", r)
	}
	if code := send(f.APIURL()+"/sandboxes", `{"templateID":"base","timeout":30,"envVariables":{}}`, key); code != http.StatusBadRequest {
		t.Errorf("the wrong create answered %d, want 400", code)
	}
	if r := rec.reported(); !strings.Contains(r, "envVariables") {
		t.Errorf("the wrong create reported %q, want an error naming envVariables", r)
	}
	exs := f.Exchanges()
	if len(exs) != 2 || !exs[0].Checked || exs[1].Checked || exs[1].Problem == "" || exs[1].Status != http.StatusBadRequest {
		t.Errorf("exchanges %+v: want the first checked, the second with a problem", exs)
	}

	live := f.Live()
	if len(live) != 1 {
		t.Fatalf("live sandboxes %v, want the right create's", live)
	}
	envd := "https://" + "49983-" + live[0] + "." + e2bfake.Domain
	rpc := map[string]string{"Connect-Protocol-Version": "1"}
	before := len(rec.reported())
	if code := send(envd+"/filesystem.Filesystem/Stat", `{"path":"/home/user"}`, rpc); code != http.StatusOK {
		t.Errorf("the right Stat answered %d: %s", code, rec.reported()[before:])
	}
	if r := rec.reported()[before:]; r != "" {
		t.Errorf("the right Stat reported %q", r)
	}
	if code := send(envd+"/filesystem.Filesystem/Stat", `{"filePath":"/home/user"}`, rpc); code != http.StatusBadRequest {
		t.Errorf("the wrong Stat answered %d, want 400", code)
	}
	if r := rec.reported()[before:]; !strings.Contains(r, "filePath") {
		t.Errorf("the wrong Stat reported %q, want an error naming filePath", r)
	}
}
