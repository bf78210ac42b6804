package jobs_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/computemw/quota"
	"github.com/computemw/kit/computemw/ratelimit"
	"github.com/computemw/kit/computemw/rbac"
	"github.com/computemw/kit/jobs"
)

var (
	_ jobs.Observer = (*prommetrics.Metrics)(nil)
	_ jobs.Reserver = (*quota.Quota)(nil)
)

// governedKit is a kit over the fake provider with API keys (alice: a
// user on the free plan; bob: a viewer), roles and quotas.
func governedKit(t *testing.T) (*computemw.Kit, *quota.Quota) {
	t.Helper()
	a, err := auth.New(auth.Config{APIKeys: map[string]computemw.Principal{
		auth.HashAPIKey("alice-key"): {ID: "alice", Role: "user", Plan: "free"},
		auth.HashAPIKey("bob-key"):   {ID: "bob", Role: "viewer", Plan: "free"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := rbac.New(rbac.Config{})
	if err != nil {
		t.Fatal(err)
	}
	q, err := quota.New(quota.Config{})
	if err != nil {
		t.Fatal(err)
	}
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{Policies: []computemw.Policy{a, r, q}})
	return kit, q
}

func executions(t *testing.T, q *quota.Quota, id string) int64 {
	t.Helper()
	u, _, err := q.Usage(context.Background(), computemw.Principal{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	return u.Executions
}

// TestQuotaReservation: a submit reserves an execution; a job refused by
// the per-caller cap or cancelled before it runs gives it back; a job
// that runs is charged once, not twice.
func TestQuotaReservation(t *testing.T) {
	kit, q := governedKit(t)
	start(t, kit, jobs.Config{Queue: pausedQueue{jobs.NewMemoryQueue(jobs.MemoryOptions{})}, MaxQueuedPerCaller: 2})
	base := serve(t, kit)
	alice := map[string]string{"X-API-Key": "alice-key"}

	do(t, http.MethodPost, base+"/jobs", `{"command":"true"}`, nil, http.StatusUnauthorized)
	do(t, http.MethodPost, base+"/jobs", `{"command":"true"}`, map[string]string{"X-API-Key": "bob-key"}, http.StatusForbidden)
	if n := executions(t, q, "bob"); n != 0 {
		t.Errorf("a refused submit kept %d executions reserved", n)
	}
	first := decode[jobBody](t, do(t, http.MethodPost, base+"/jobs", `{"command":"true"}`, alice, http.StatusAccepted).Raw)
	if first.Status != "queued" || first.ID == "" {
		t.Fatalf("submit: %+v", first)
	}
	do(t, http.MethodPost, base+"/jobs", `{"command":"echo 2"}`, alice, http.StatusAccepted)
	if n := executions(t, q, "alice"); n != 2 {
		t.Fatalf("two queued jobs reserve two executions, got %d", n)
	}
	r := do(t, http.MethodPost, base+"/jobs", `{"command":"true"}`, alice, http.StatusTooManyRequests)
	if r.Code() != "RATE_LIMITED" || r.Header.Get("Retry-After") == "" {
		t.Errorf("over the cap: %s %v", r.Raw, r.Header)
	}
	do(t, http.MethodPost, base+"/batches", `{"jobs":[{"command":"true"},{"command":"true"}]}`, alice, http.StatusTooManyRequests)
	if n := executions(t, q, "alice"); n != 2 {
		t.Fatalf("jobs refused by the cap kept their reservation: %d executions", n)
	}
	// Another caller neither sees nor cancels alice's job.
	do(t, http.MethodGet, base+"/jobs/"+first.ID, "", map[string]string{"X-API-Key": "bob-key"}, http.StatusNotFound)
	do(t, http.MethodDelete, base+"/jobs/"+first.ID, "", map[string]string{"X-API-Key": "bob-key"}, http.StatusNotFound)
	c := decode[jobBody](t, do(t, http.MethodDelete, base+"/jobs/"+first.ID, "", alice, http.StatusOK).Raw)
	if c.Status != "cancelled" || c.Attempts != 0 {
		t.Fatalf("cancel: %+v", c)
	}
	do(t, http.MethodDelete, base+"/jobs/"+first.ID, "", alice, http.StatusOK) // again: nothing more given back
	if n := executions(t, q, "alice"); n != 1 {
		t.Fatalf("a job cancelled before it ran kept its reservation: %d executions", n)
	}
	list := decode[struct{ Jobs []jobBody }](t, do(t, http.MethodGet, base+"/jobs", "", alice, http.StatusOK).Raw)
	if len(list.Jobs) != 2 {
		t.Errorf("GET /jobs: %+v", list)
	}
}

// TestRunChargedOnce: a job that runs is one execution of its
// submitter's quota (the reservation made at submit, not a second one),
// runs with the submitter's role, and is not counted again by the rate
// limits.
func TestRunChargedOnce(t *testing.T) {
	a, err := auth.New(auth.Config{APIKeys: map[string]computemw.Principal{
		auth.HashAPIKey("alice-key"): {ID: "alice", Role: "user", Plan: "free"}}})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := rbac.New(rbac.Config{})
	q, _ := quota.New(quota.Config{})
	rl, err := ratelimit.New(ratelimit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{Policies: []computemw.Policy{a, rl, r, q}})
	svc := start(t, kit, jobs.Config{})
	base := serve(t, kit)
	alice := map[string]string{"X-API-Key": "alice-key"}
	// The free tier allows 10 requests per window: one batch of 12 jobs
	// is one request, and the 12 runs are not requests.
	body := `{"jobs":[` + repeat(`{"command":"echo hi","expectedOutput":"hi"}`, 12) + `]}`
	b := decode[struct {
		ID   string
		Jobs []jobBody
	}](t, do(t, http.MethodPost, base+"/batches", body, alice, http.StatusAccepted).Raw)
	ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice"})
	waitFor(t, "the batch finishes", func() bool {
		bt, err := svc.GetBatch(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range bt.Jobs {
			if !j.State.Final() {
				return false
			}
		}
		return true
	})
	got := decode[struct{ Jobs []jobBody }](t, do(t, http.MethodGet, base+"/batches/"+b.ID, "", alice, http.StatusOK).Raw)
	for _, j := range got.Jobs {
		if j.Status != "completed" || j.Verdict != "accepted" {
			t.Errorf("job %s: %+v", j.ID, j)
		}
	}
	if n := executions(t, q, "alice"); n != 12 {
		t.Errorf("12 jobs that ran are %d executions", n)
	}
}

func repeat(s string, n int) string {
	out := s
	for range n - 1 {
		out += "," + s
	}
	return out
}

// TestCancelRunningMemory: cancelling a running job stops its run.
func TestCancelRunningMemory(t *testing.T) {
	kit, fake := computemwtest.SuiteKit(t, computemw.Config{})
	svc := start(t, kit, jobs.Config{})
	ctx := context.Background()
	j, err := svc.Submit(ctx, jobs.Spec{Command: "block"})
	if err != nil {
		t.Fatal(err)
	}
	<-fake.Started()
	c, err := svc.Cancel(ctx, j.ID)
	if err != nil || c.State.Final() {
		t.Fatalf("cancel of a running job: %+v %v", c, err)
	}
	waitFor(t, "the job is cancelled", func() bool {
		got, err := svc.Get(ctx, j.ID)
		return err == nil && got.State == jobs.StateCancelled && got.Attempts == 1
	})
}
