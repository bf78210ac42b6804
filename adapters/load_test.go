package adapters_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
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

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
