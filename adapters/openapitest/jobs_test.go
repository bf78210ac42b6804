package openapitest_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/jobs"
)

// startJobs starts the job service of kit, closed before the kit.
func startJobs(t *testing.T, kit *computemw.Kit) {
	t.Helper()
	s, err := jobs.New(context.Background(), kit, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("jobs: %v", err)
		}
	})
}

// jobRoutes calls every job route through base (a kit with a job
// service): submits, reads until final, lists, cancels, batches, and the
// errors.
func jobRoutes(t *testing.T, base string) {
	ctx := context.Background()
	do := func(method, path, body string, want int) *computemwtest.Reply {
		t.Helper()
		r := computemwtest.Do(t, ctx, method, base+path, body, nil)
		if r.Status != want {
			t.Errorf("%s %s: %d %s, want %d", method, path, r.Status, r.Raw, want)
		}
		return r
	}
	id, _ := do(http.MethodPost, "/jobs", `{"language":"python","code":"echo 42","expectedOutput":"42","compare":"trim"}`, http.StatusAccepted).Body["id"].(string)
	wrong, _ := do(http.MethodPost, "/jobs", `{"command":"exit 3"}`, http.StatusAccepted).Body["id"].(string)
	do(http.MethodPost, "/jobs", `{}`, http.StatusBadRequest)
	do(http.MethodPost, "/jobs", `{"command":"true","callbackUrl":"http://127.0.0.1/hook"}`, http.StatusBadRequest)
	for _, j := range []string{id, wrong} {
		deadline := time.Now().Add(time.Minute)
		for {
			r := do(http.MethodGet, "/jobs/"+j, "", http.StatusOK)
			if s, _ := r.Body["status"].(string); s == "completed" || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	do(http.MethodGet, "/jobs", "", http.StatusOK)
	do(http.MethodDelete, "/jobs/"+id, "", http.StatusOK)
	do(http.MethodGet, "/jobs/nope", "", http.StatusNotFound)
	b, _ := do(http.MethodPost, "/batches", `{"jobs":[{"command":"echo a"},{"command":"echo b","expectedOutput":"a"}]}`, http.StatusAccepted).Body["id"].(string)
	do(http.MethodPost, "/batches", `{"jobs":[]}`, http.StatusBadRequest)
	do(http.MethodGet, "/batches/"+b, "", http.StatusOK)
	do(http.MethodGet, "/batches/nope", "", http.StatusNotFound)
}
