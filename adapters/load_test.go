package adapters_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
)

// 64 clients send the worst requests an audit found at once — a 70,000-byte
// environment, a path 1000 directories deep, a read of a 64 MiB file, a
// gzip bomb — and then a normal request from another client still succeeds
// within a bounded time, the server's allocations stay bounded, and no
// sandbox is left.
func TestWorstRequestsUnderLoad(t *testing.T) {
	t.Run("one session's 300 executions", oneSessionsQueue)
	t.Run("one caller filling the sandboxes", oneCallerFillsSandboxes)
	for _, a := range []int{0, 3, 5} { // net/http, fiber and fiber v3: the two server stacks
		a := adapters[a]
		t.Run(a.Name, func(t *testing.T) {
			kit := localKit(t, computemw.Config{MaxSessionsPerPrincipal: 64})
			base := a.Start(t, kit) + computemwtest.Prefix
			ctx := context.Background()
			id := bigFileSession(t, base)
			var bomb bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
			zw.Write([]byte(`{"command":"true"`))
			zw.Write(bytes.Repeat([]byte{' '}, 64<<20))
			zw.Write([]byte(`}`))
			zw.Close()
			deep := strings.Repeat("d/", 1000)
			worst := []struct {
				path, body string
				header     map[string]string
				status     int
			}{
				{"/exec", `{"command":"true","env":{"BIG":"` + strings.Repeat("x", 70_000) + `"}}`, nil, 400},
				{"/sandboxes/" + id + "/files", `{"action":"mkdir","path":"` + deep + `"}`, nil, 400},
				{"/sandboxes/" + id + "/files", `{"action":"read","path":"big"}`, nil, 413},
				{"/exec", bomb.String(), map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}, 415},
			}

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			var wg sync.WaitGroup
			for i := range 64 {
				w := worst[i%len(worst)]
				wg.Go(func() {
					rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
					defer cancel()
					if r := computemwtest.Do(t, rctx, http.MethodPost, base+w.path, w.body, w.header); r.Status != w.status {
						t.Errorf("%s: %d %.200s, want %d", w.path, r.Status, r.Raw, w.status)
					}
				})
			}
			wg.Wait()
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<20 {
				t.Errorf("64 worst requests made the server allocate %d MiB", alloc>>20)
			}

			// Another client's normal request, within a bound.
			nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if r := computemwtest.Do(t, nctx, http.MethodPost, base+"/exec", `{"command":"echo fine"}`, nil); r.Status != 200 || r.Body["output"] != "fine\n" {
				t.Fatalf("a normal request after the load: %d %s", r.Status, r.Raw)
			}
			if r := computemwtest.Do(t, ctx, http.MethodDelete, base+"/sandboxes/"+id, "", nil); r.Status != 204 {
				t.Fatalf("delete: %d", r.Status)
			}
			// A request's sandbox is destroyed after its answer: wait for
			// the last one.
			var m *computemwtest.Reply
			deadline := time.Now().Add(30 * time.Second)
			for {
				m = computemwtest.Do(t, ctx, http.MethodGet, base+"/metrics", "", nil)
				if strings.Contains(string(m.Raw), fmt.Sprintf("\ncompute_active_sandboxes %d\n", 0)) || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if !strings.Contains(string(m.Raw), fmt.Sprintf("\ncompute_active_sandboxes %d\n", 0)) {
				t.Errorf("sandboxes left after the load:\n%s", grepLines(string(m.Raw), "compute_active_sandboxes"))
			}
		})
	}
}

// from is the header of a caller at addr, behind the trusted proxy on
// loopback: each address is its own caller.
func from(addr string) map[string]string { return map[string]string{"X-Forwarded-For": addr} }

var loopbackProxy = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// hogPost runs a program that never ends for the caller at addr, until ctx
// ends; it returns the answer's status and error code, if one came.
func hogPost(ctx context.Context, url, addr string) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(`{"command":"sleep 300","timeout":300000}`))
	if err != nil {
		return 0, ""
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", addr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	var body struct{ Code string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Code
}

// waitLive polls the kit until at least n sandboxes are alive.
func waitLive(t *testing.T, kit *computemw.Kit, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for kit.Stats().Live < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d sandboxes alive, want %d", kit.Stats().Live, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// One caller sends 300 executions that never end into one session; at
// most Config.MaxSessionExecutions of them run, the rest are refused at
// once, and another caller's request runs while they still hold theirs.
func oneSessionsQueue(t *testing.T) {
	kit := localKit(t, computemw.Config{TrustedProxies: loopbackProxy, MaxSessionExecutions: 4})
	base := adapters[0].Start(t, kit) + computemwtest.Prefix
	r := computemwtest.Do(t, context.Background(), http.MethodPost, base+"/sandboxes", `{}`, from("10.0.0.1"))
	id, _ := r.Body["sandboxId"].(string)
	if r.Status != 201 {
		t.Fatalf("session: %d %s", r.Status, r.Raw)
	}
	hog, stop := context.WithCancel(context.Background())
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		refused int
	)
	for range 300 {
		wg.Go(func() {
			if status, code := hogPost(hog, base+"/sandboxes/"+id+"/exec", "10.0.0.1"); status == 429 && code == string(computemw.CodeRateLimited) {
				mu.Lock()
				refused++
				mu.Unlock()
			}
		})
	}
	// The refusals come at once; the four running never end by themselves.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		mu.Lock()
		n := refused
		mu.Unlock()
		if n == 296 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	r = computemwtest.Do(t, context.Background(), http.MethodPost, base+"/exec", `{"command":"echo hi"}`, from("10.0.0.2"))
	mu.Lock()
	n := refused
	mu.Unlock()
	stop()
	wg.Wait()
	if n != 296 {
		t.Errorf("%d of 300 executions in one session were refused, want 296 (4 run at once)", n)
	}
	if r.Status != 200 || r.Body["output"] != "hi\n" {
		t.Errorf("another caller beside one session's 300 executions: %d %s", r.Status, r.Raw)
	}
	if r := computemwtest.Do(t, context.Background(), http.MethodDelete, base+"/sandboxes/"+id, "", from("10.0.0.1")); r.Status != 204 {
		t.Errorf("delete: %d", r.Status)
	}
}

// One caller asks for every sandbox slot with programs that never end; it
// gets all but an eighth, and another caller's request runs meanwhile.
func oneCallerFillsSandboxes(t *testing.T) {
	kit := localKit(t, computemw.Config{TrustedProxies: loopbackProxy, MaxSandboxes: 16})
	base := adapters[0].Start(t, kit) + computemwtest.Prefix
	hog, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			hogPost(hog, base+"/exec", "10.0.0.1")
		})
	}
	waitLive(t, kit, 14)
	r := computemwtest.Do(t, context.Background(), http.MethodPost, base+"/exec", `{"command":"echo hi"}`, from("10.0.0.2"))
	live := kit.Stats().Live
	stop()
	wg.Wait()
	if r.Status != 200 || r.Body["output"] != "hi\n" {
		t.Errorf("another caller beside one filling the sandboxes: %d %s", r.Status, r.Raw)
	}
	if live > 15 {
		t.Errorf("%d sandboxes alive with the victim's: the hog held more than 14 of 16", live)
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
