package jobs_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/jobs"
)

// serve mounts kit's route group under /api on a loopback server.
func serve(t *testing.T, kit *computemw.Kit) string {
	t.Helper()
	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/api"
}

// start starts a job service for kit, closed at cleanup.
func start(t *testing.T, kit *computemw.Kit, cfg jobs.Config) *jobs.Service {
	t.Helper()
	s, err := jobs.New(context.Background(), kit, cfg)
	if err != nil {
		t.Fatalf("jobs.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("jobs Close: %v", err)
		}
	})
	return s
}

// do sends a request and checks its status.
func do(t *testing.T, method, url, body string, hdr map[string]string, want int) *computemwtest.Reply {
	t.Helper()
	r := computemwtest.Do(t, context.Background(), method, url, body, hdr)
	if r.Status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, r.Status, r.Raw, want)
	}
	return r
}

// waitFor polls cond until it holds, failing after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after a minute: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// jobBody is a job as the routes answer it.
type jobBody struct {
	ID       string          `json:"id"`
	BatchID  string          `json:"batchId"`
	Status   string          `json:"status"`
	Verdict  string          `json:"verdict"`
	Signal   string          `json:"signal"`
	Attempts int             `json:"attempts"`
	Result   json.RawMessage `json:"result"`
	Error    *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decode[T any](t *testing.T, raw []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	return v
}

// pausedQueue is a memory queue whose workers never start: its jobs stay
// queued.
type pausedQueue struct{ *jobs.MemoryQueue }

func (pausedQueue) Start(context.Context, jobs.WorkFunc) error { return nil }
