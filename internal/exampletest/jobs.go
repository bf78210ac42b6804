package exampletest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/computemw/kit/computemw/computemwtest"
)

// CheckJobs checks that the starter serves the job routes: a submitted
// job is queued at once and ends graded.
func CheckJobs(t *testing.T, srv *Server) {
	t.Helper()
	ctx := context.Background()
	r := computemwtest.Do(t, ctx, http.MethodPost, srv.URL+"/api/jobs", `{"language":"python","code":"print(6*7)","expectedOutput":"42"}`, nil)
	id, _ := r.Body["id"].(string)
	if r.Status != http.StatusAccepted || id == "" {
		t.Fatalf("POST /api/jobs: %d %s", r.Status, r.Raw)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		r = computemwtest.Do(t, ctx, http.MethodGet, srv.URL+"/api/jobs/"+id, "", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("GET /api/jobs/%s: %d %s", id, r.Status, r.Raw)
		}
		if r.Body["status"] == "completed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job not finished after a minute: %s", r.Raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.Body["verdict"] != "accepted" {
		t.Errorf("job: %s", r.Raw)
	}
}
