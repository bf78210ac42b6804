package adapters_test

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
)

// A session makes a 64 MiB sparse file, free to the sandbox. Reading it
// must not cost the server its size: the JSON read is refused (413) before
// anything is read, even by many clients at once, and the download action
// streams it with its length — on the two server stacks.
func TestLargeFilesAreStreamed(t *testing.T) {
	for _, a := range []int{0, 3, 5} { // net/http, fiber and fiber v3: the two server stacks
		a := adapters[a]
		t.Run(a.Name, func(t *testing.T) {
			kit := localKit(t, computemw.Config{MaxFileTransfers: 64})
			base := a.Start(t, kit) + computemwtest.Prefix
			id := bigFileSession(t, base)
			files := base + "/sandboxes/" + id + "/files"
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			var wg sync.WaitGroup
			for range 16 {
				wg.Go(func() {
					r := computemwtest.Do(t, context.Background(), http.MethodPost, files, `{"action":"read","path":"big"}`, nil)
					if r.Status != 413 || r.Code() != string(computemw.CodePayloadTooLarge) {
						t.Errorf("read: %d %s", r.Status, r.Raw)
					}
				})
			}
			wg.Wait()
			resp, err := http.Post(files, "application/json", strings.NewReader(`{"action":"download","path":"big"}`))
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			runtime.ReadMemStats(&after)
			if err != nil || resp.StatusCode != 200 || n != 64<<20 || resp.ContentLength != 64<<20 ||
				resp.Header.Get("Content-Type") != "application/octet-stream" {
				t.Fatalf("download: %d, %d bytes of %d, %q, %v", resp.StatusCode, n, resp.ContentLength, resp.Header.Get("Content-Type"), err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
				t.Errorf("16 reads and a download of a 64 MiB file allocated %d MiB", alloc>>20)
			}
			if r := computemwtest.Do(t, context.Background(), http.MethodDelete, base+"/sandboxes/"+id, "", nil); r.Status != 204 {
				t.Errorf("delete: %d", r.Status)
			}
		})
	}
}

// bigFileSession creates a session at base (the route group's URL) whose
// workspace holds "big", a 64 MiB sparse file, and returns its ID.
func bigFileSession(t *testing.T, base string) string {
	t.Helper()
	r := computemwtest.Do(t, context.Background(), http.MethodPost, base+"/sandboxes", `{}`, nil)
	id, _ := r.Body["sandboxId"].(string)
	if r.Status != 201 {
		t.Fatalf("session: %d %s", r.Status, r.Raw)
	}
	if r := computemwtest.Do(t, context.Background(), http.MethodPost, base+"/sandboxes/"+id+"/exec",
		`{"command":"truncate -s 64M big"}`, nil); r.Status != 200 || r.Body["exitCode"] != 0.0 {
		t.Fatalf("truncate: %d %s", r.Status, r.Raw)
	}
	return id
}
