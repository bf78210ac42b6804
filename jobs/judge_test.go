package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/jobs"
	"github.com/computemw/kit/providers/local"
)

// localKit is a kit over real bwrap sandboxes, closed at cleanup with
// nothing left behind.
func localKit(t *testing.T) *computemw.Kit {
	t.Helper()
	_, err := exec.LookPath("bwrap")
	computemwtest.Require(t, err == nil, "bubblewrap (bwrap) is not installed")
	base, err := os.MkdirTemp("", "computemw-jobs-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o711); err != nil {
		t.Fatal(err)
	}
	prov, err := local.New(local.Config{BaseDir: base, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("local.New: %v", err)
	}
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{prov},
		Metrics: prommetrics.New(prommetrics.Options{}), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := kit.Close(ctx); err != nil {
			t.Errorf("kit.Close: %v", err)
		}
		// The compiled languages' build cache is kept across sandboxes by
		// design; nothing else may remain.
		left, _ := filepath.Glob(filepath.Join(base, "*"))
		left = slices.DeleteFunc(left, func(p string) bool { return filepath.Base(p) == "buildcache" })
		if len(left) != 0 {
			t.Errorf("left behind: %v", left)
		}
		os.RemoveAll(base)
	})
	return kit
}

// receiver is a webhook receiver on loopback that checks signatures.
type receiver struct {
	t      *testing.T
	secret []byte
	mu     sync.Mutex
	got    map[string]jobBody
	tries  map[string]int
	bad    int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := jobs.VerifySignature(rc.secret, r.Header.Get(jobs.SignatureHeader), body, time.Minute); err != nil {
		rc.bad++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var j jobBody
	if err := json.Unmarshal(body, &j); err != nil || j.ID != r.Header.Get(jobs.WebhookIDHeader) {
		rc.bad++
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	rc.tries[j.ID]++
	// Every third job's first delivery fails: the service retries it.
	if len(rc.tries)%3 == 0 && rc.tries[j.ID] == 1 {
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	rc.got[j.ID] = j
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

// submission is one graded submission of the judge test.
type submission struct {
	language, code string
	timeout        int // ms; 0 is the default
	memory         int // MB; 0 is the default
	want           string
	signal         string
}

// The problem: read two integers, print their sum.
var (
	cases = []struct{ in, out string }{{"1 2\n", "3\n"}, {"40 2\n", "42\n"}, {"-5 5\n", "0\n"}, {"100 1\n", "101\n"}, {"7 8\n", "15\n"}}

	graded = []submission{
		{language: "python", code: "a, b = map(int, input().split())\nprint(a + b)\n", want: "accepted"},
		{language: "python", code: "a, b = map(int, input().split())\nprint(a - b)\n", want: "wrong_answer"},
		{language: "python", code: "while True:\n    pass\n", timeout: 1000, want: "time_limit_exceeded"},
		{language: "python", code: "x = b'a' * (400 << 20)\nprint(len(x))\n", memory: 64, want: "memory_limit_exceeded"},
		{language: "python", code: "import sys\nsys.exit(3)\n", want: "runtime_error"},
		{language: "python", code: "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n", want: "runtime_error", signal: "SIGSEGV"},
		{language: "c", code: "#include <stdio.h>\nint main( { return 0 }\n", want: "compilation_error"},
	}
	// How many of each in the batch of 50.
	mix = []int{12, 10, 5, 5, 6, 5, 7}
)

// TestJudgeBatch grades a batch of 50 submissions over real bwrap
// sandboxes, each with the right verdict, and delivers every result to
// a webhook receiver on loopback with a valid signature.
func TestJudgeBatch(t *testing.T) {
	kit := localKit(t)
	secret := []byte("judge-secret")
	rc := &receiver{t: t, secret: secret, got: map[string]jobBody{}, tries: map[string]int{}}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	start(t, kit, jobs.Config{Queue: jobs.NewMemoryQueue(jobs.MemoryOptions{Workers: 4}),
		Webhooks: jobs.WebhookConfig{Secret: secret, AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			Backoff: 10 * time.Millisecond}})
	base := serve(t, kit)

	type entry struct {
		Language       string `json:"language"`
		Code           string `json:"code"`
		Stdin          string `json:"stdin"`
		ExpectedOutput string `json:"expectedOutput"`
		Timeout        int    `json:"timeout,omitempty"`
		MemoryLimit    int    `json:"memoryLimit,omitempty"`
		CallbackURL    string `json:"callbackUrl"`
	}
	var batch []entry
	var want []submission
	for i, s := range graded {
		for k := range mix[i] {
			c := cases[k%len(cases)]
			batch = append(batch, entry{Language: s.language, Code: s.code, Stdin: c.in, ExpectedOutput: c.out,
				Timeout: s.timeout, MemoryLimit: s.memory, CallbackURL: hook.URL + "/judged"})
			want = append(want, s)
		}
	}
	if len(batch) != 50 {
		t.Fatalf("%d submissions", len(batch))
	}
	body, _ := json.Marshal(map[string]any{"jobs": batch})
	b := decode[struct {
		ID   string
		Jobs []jobBody
	}](t, do(t, http.MethodPost, base+"/batches", string(body), nil, http.StatusAccepted).Raw)
	if len(b.Jobs) != 50 || b.ID == "" {
		t.Fatalf("batch: %d jobs, id %q", len(b.Jobs), b.ID)
	}
	var got struct{ Jobs []jobBody }
	waitFor(t, "every job of the batch is final", func() bool {
		got = decode[struct{ Jobs []jobBody }](t, do(t, http.MethodGet, base+"/batches/"+b.ID, "", nil, http.StatusOK).Raw)
		for _, j := range got.Jobs {
			if j.Status == "queued" || j.Status == "running" {
				return false
			}
		}
		return true
	})
	for i, j := range got.Jobs {
		if j.ID != b.Jobs[i].ID {
			t.Fatalf("batch order: job %d is %s, want %s", i, j.ID, b.Jobs[i].ID)
		}
		w := want[i]
		if j.Status != "completed" || j.Verdict != w.want || j.Signal != w.signal {
			t.Errorf("job %d (%s %q): status %s verdict %s signal %q error %+v, want %s %q", i, w.language,
				strings.SplitN(w.code, "\n", 2)[0], j.Status, j.Verdict, j.Signal, j.Error, w.want, w.signal)
		}
		if w.want == "compilation_error" && !strings.Contains(string(j.Result), "compileOutput") {
			t.Errorf("job %d: a compilation error without the compiler's output: %s", i, j.Result)
		}
	}
	waitFor(t, "every result reaches the webhook receiver", func() bool { return rc.count() == 50 })
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.bad != 0 {
		t.Errorf("%d callbacks with a bad signature or body", rc.bad)
	}
	retried := 0
	for i, j := range got.Jobs {
		cb, ok := rc.got[j.ID]
		if !ok || cb.Verdict != want[i].want || cb.Status != "completed" {
			t.Errorf("callback of job %d: %+v (received %t)", i, cb, ok)
		}
		if rc.tries[j.ID] > 1 {
			retried++
		}
	}
	if retried == 0 {
		t.Errorf("no callback was retried after a 503")
	}
	t.Logf("verdicts checked for %d jobs; %d callbacks needed a retry", len(got.Jobs), retried)
}

// TestCallbackRefused: a callback to a disallowed address is refused at
// submit with a clear 400.
func TestCallbackRefused(t *testing.T) {
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{})
	start(t, kit, jobs.Config{Webhooks: jobs.WebhookConfig{Secret: []byte("s")}})
	base := serve(t, kit)
	for _, u := range []string{"http://127.0.0.1:9/hook", "http://localhost/hook", "http://169.254.169.254/latest/meta-data",
		"http://10.1.2.3/", "http://192.168.0.1/", "http://[::1]/", "http://[fe80::1]/", "http://0.0.0.0/", "ftp://example.com/", "/relative"} {
		r := do(t, http.MethodPost, base+"/jobs", fmt.Sprintf(`{"command":"true","callbackUrl":%q}`, u), nil, http.StatusBadRequest)
		if r.Code() != "BAD_REQUEST" || !strings.Contains(strings.ToLower(string(r.Raw)), "callbackurl") {
			t.Errorf("%s: %s", u, r.Raw)
		}
	}
	// Without a secret, no callback is accepted.
	kit2, _ := computemwtest.SuiteKit(t, computemw.Config{})
	start(t, kit2, jobs.Config{})
	r := do(t, http.MethodPost, serve(t, kit2)+"/jobs", `{"command":"true","callbackUrl":"https://example.com/"}`, nil, http.StatusBadRequest)
	if !strings.Contains(string(r.Raw), "not configured") {
		t.Errorf("no secret: %s", r.Raw)
	}
}
