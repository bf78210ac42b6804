package vercel_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/vercel"
	"github.com/computemw/kit/providers/vercel/vercelfake"
)

// The provider's exchanges with Vercel, requests and answers alike, are
// valid against the API description derived from the vendor's SDK: the
// fake checks every one (unknown fields, undeclared parameters and units
// included) and this runs each operation the provider uses.
func TestConformanceExchanges(t *testing.T) {
	p, fake := newProvider(t, vercelfake.Options{StartPolls: 2}, vercel.Options{Image: "node:24", Region: "cdg1", Ports: []int{3000}})
	ctx := ctxT(t, 60*time.Second)
	if err := p.CheckHealth(ctx); err != nil {
		t.Fatal(err)
	}
	sb := create(t, p, computemw.CreateOptions{Env: map[string]string{"A": "1"}, Metadata: map[string]string{"k": "v"},
		Resources: computemw.Resources{CPUCores: 1.5, MemoryMB: 1024}})
	if _, err := sb.Exec(ctx, "cat; echo err >&2", computemw.ExecOptions{Stdin: strings.NewReader("in"), Env: map[string]string{"B": "2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.RunCode(ctx, "sh", "echo hi", computemw.ExecOptions{Args: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	if err := sb.Mkdir(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if err := sb.Mkdir(ctx, "d/e/f"); err != nil {
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
	term, err := sb.OpenTerminal(ctx, computemw.TerminalOptions{Command: "exit 0", Cols: 80, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := term.Wait(); err != nil {
		t.Fatal(err)
	}
	term.Close()
	if err := sb.ExtendTimeout(ctx, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, want := fake.Timeout(sb.ID()), (vercel.DefaultSandboxTimeout + 10*time.Minute).Milliseconds(); got != want {
		t.Errorf("the session's timeout is %d ms, want %d", got, want)
	}
	if _, err := sb.Usage(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := p.Attach(ctx, sb.ID())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.Exec(ctx, "true", computemw.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	p.Detach(again)
	if !strings.HasPrefix(sb.Name(), "computemw-") || again.(*vercel.Sandbox).Name() != "" {
		t.Errorf("names %q and %q, want the created one's only", sb.Name(), again.(*vercel.Sandbox).Name())
	}
	req := fake.Created(sb.ID())
	if req["timeout"] != float64(vercel.DefaultSandboxTimeout.Milliseconds()) || req["image"] != "node:24" ||
		req["region"] != "cdg1" || fmt.Sprint(req["resources"]) != "map[vcpus:2]" || fmt.Sprint(req["networkPolicy"]) != "map[mode:deny-all]" {
		t.Errorf("create request %v", req)
	}
	if err := sb.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Attach(ctx, sb.ID()); !errors.Is(err, computemw.ErrNotFound) {
		t.Errorf("Attach once destroyed: %v", err)
	}

	ops := map[string]int{}
	checked := 0
	for _, ex := range fake.Exchanges() {
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
	var names []string
	for op := range ops {
		names = append(names, op)
	}
	sort.Strings(names)
	t.Logf("%d exchanges validated against the API description, over %d operations: %s", checked, len(ops), strings.Join(names, " "))
	for _, op := range []string{"listSandboxes", "createSandbox", "getSession", "runCommand", "writeFiles", "readFile",
		"mkDir", "extendTimeout", "stopSession", "openInteractive"} {
		if ops[op] == 0 {
			t.Errorf("no validated exchange of %s", op)
		}
	}
}

// errRecorder is a testing.TB that keeps the fake's reports instead of
// failing the test.
type errRecorder struct {
	*testing.T
	mu   sync.Mutex
	errs []string
}

func (r *errRecorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *errRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.errs
	r.errs = nil
	return e
}

// The fake's checks can fail: a wrong field name, a timeout in seconds, a
// missing teamId, a wrong token and any call of the retired v1 API are
// refused and reported, where the vendor's request passes.
func TestConformanceCheckCatchesMistakes(t *testing.T) {
	rec := &errRecorder{T: t}
	fake := vercelfake.New(rec, vercelfake.Options{})
	send := func(method, path, query, token, body string) int {
		req, err := http.NewRequest(method, fake.URL+path+"?"+query, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	team := "teamId=" + fake.TeamID
	good := `{"projectId":"` + fake.ProjectID + `","name":"n%d","timeout":300000,"resources":{"vcpus":2},"persistent":false}`
	if code := send("POST", "/v3/sandboxes", team, fake.Token, fmt.Sprintf(good, 0)); code != 200 {
		t.Fatalf("the right request: %d %v", code, rec.take())
	}
	if errs := rec.take(); len(errs) != 0 {
		t.Fatalf("the right request reported %v", errs)
	}
	for _, tc := range []struct {
		name, method, path, query, token, body, want string
		status                                       int
	}{
		{"unknown field", "POST", "/v3/sandboxes", team, fake.Token,
			strings.Replace(fmt.Sprintf(good, 1), `"timeout"`, `"timeoutMs"`, 1), "timeoutMs", 400},
		{"timeout in seconds", "POST", "/v3/sandboxes", team, fake.Token,
			strings.Replace(fmt.Sprintf(good, 2), `300000`, `300`, 1), "timeout", 400},
		{"memory as vCPUs", "POST", "/v3/sandboxes", team, fake.Token,
			strings.Replace(fmt.Sprintf(good, 3), `"vcpus":2`, `"vcpus":4096`, 1), "vcpus", 400},
		{"no teamId", "POST", "/v3/sandboxes", "", fake.Token, fmt.Sprintf(good, 4), "teamId", 403},
		{"wrong token", "POST", "/v3/sandboxes", team, "other", fmt.Sprintf(good, 5), "Authorization", 401},
		{"v1 create", "POST", "/v1/sandboxes", team, fake.Token, fmt.Sprintf(good, 6), "v1 API is retired", 410},
		{"v1 command", "POST", "/v1/sandboxes/sbx_000001/cmd", team, fake.Token, `{"command":"ls","args":[]}`, "v1 API is retired", 410},
		{"unknown path", "GET", "/v2/sandboxes/sessions/x/files", team, fake.Token, ``, "not in the spec", 400},
	} {
		if code := send(tc.method, tc.path, tc.query, tc.token, tc.body); code != tc.status {
			t.Errorf("%s: answered %d, want %d", tc.name, code, tc.status)
		}
		if errs := rec.take(); len(errs) == 0 || !strings.Contains(strings.Join(errs, "\n"), tc.want) {
			t.Errorf("%s: reported %q, want an error naming %q", tc.name, errs, tc.want)
		}
	}
	if n := fake.Made(); n != 1 {
		t.Errorf("the fake made %d sandboxes, want only the right request's", n)
	}
	if code := send("DELETE", "/v2/sandboxes/n0", team+"&projectId="+fake.ProjectID, fake.Token, ``); code != 200 {
		t.Errorf("deleting the sandbox: %d %v", code, rec.take())
	}
	if live := fake.Live(); len(live) != 0 {
		t.Errorf("left on the fake's books: %v", live)
	}
}
