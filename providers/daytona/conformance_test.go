package daytona_test

import (
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/daytona"
	"github.com/computemw/kit/providers/daytona/daytonafake"
)

// The provider's exchanges with Daytona, requests and answers alike, are
// valid against the vendor's specs: the fake checks every one (unknown
// fields and undeclared parameters included) and this runs each
// operation the provider uses.
func TestConformanceExchanges(t *testing.T) {
	p, fake := newProvider(t, daytonafake.Options{StartPolls: 2}, daytona.Options{})
	ctx := ctxT(t, 60*time.Second)
	if err := p.CheckHealth(ctx); err != nil {
		t.Fatal(err)
	}
	sb := create(t, p, computemw.CreateOptions{Env: map[string]string{"A": "1"}, Metadata: map[string]string{"k": "v"}})
	if _, err := sb.Exec(ctx, "cat; echo err >&2", computemw.ExecOptions{Stdin: strings.NewReader("in")}); err != nil {
		t.Fatal(err)
	}
	pr, pw := ioPipe()
	go func() { pw.Write([]byte("x\n")); pw.Close() }()
	if _, err := sb.Exec(ctx, "head -n1", computemw.ExecOptions{Stdin: pr}); err != nil {
		t.Fatal(err)
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
	if _, err := sb.ListFiles(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Stat(ctx, "d/f"); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Stat(ctx, "missing"); !errors.Is(err, computemw.ErrNotFound) {
		t.Errorf("Stat of a missing file: %v", err)
	}
	if err := sb.Remove(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("python3"); err == nil {
		if _, err := sb.RunCode(ctx, "python", "print(1)", computemw.ExecOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sb.KeepAlive(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sb.SetAutoStop(ctx, 30); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Get(ctx, sb.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.List(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := sb.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Get(ctx, sb.ID()); err != nil {
		t.Fatal(err) // destroying
	}
	if _, err := p.Get(ctx, sb.ID()); !errors.Is(err, computemw.ErrNotFound) {
		t.Errorf("Get once destroyed: %v", err)
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
	t.Logf("%d exchanges validated against the vendor specs, over %d operations: %s", checked, len(ops), strings.Join(names, " "))
	for _, op := range []string{"listSandboxes", "createSandbox", "getSandbox", "deleteSandbox", "updateLastActivity",
		"setAutostopInterval", "GetWorkDir", "CreateSession", "SessionExecuteCommand", "GetSessionCommand",
		"GetSessionCommandLogs", "SendInput", "DeleteSession", "UploadFile", "DownloadFile", "ListFiles",
		"GetFileInfo", "CreateFolder", "DeleteFile"} {
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

// The check can fail: a create whose one field name is changed is
// refused and reported, where the same request with the vendor's name
// passes.
func TestConformanceCheckCatchesAWrongFieldName(t *testing.T) {
	rec := &errRecorder{T: t}
	fake := daytonafake.New(rec, daytonafake.Options{})
	send := func(body string) int {
		req, err := http.NewRequest("POST", fake.URL+"/sandbox", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+fake.APIKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(`{"name":"right","labels":{},"autoStopInterval":15}`); code != 200 {
		t.Fatalf("the right request: %d %v", code, rec.take())
	}
	if errs := rec.take(); len(errs) != 0 {
		t.Fatalf("the right request reported %v", errs)
	}
	if code := send(`{"name":"wrong","labels":{},"autoStopIntervalMinutes":15}`); code != 400 {
		t.Errorf("the wrong request answered %d, want 400", code)
	}
	errs := rec.take()
	if len(errs) == 0 || !strings.Contains(strings.Join(errs, "\n"), "autoStopIntervalMinutes") {
		t.Errorf("the wrong request reported %q, want an error naming autoStopIntervalMinutes", errs)
	}
	exs := fake.Exchanges()
	if len(exs) != 2 || !exs[0].Checked || exs[1].Checked || exs[1].Problem == "" {
		t.Errorf("exchanges %+v: want the first checked, the second with a problem", exs)
	}
}
