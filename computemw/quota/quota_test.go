package quota_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/computemw/internal/policytest"
	"github.com/computemw/kit/computemw/quota"
	"github.com/computemw/kit/computemw/rbac"
)

func TestMemoryQuotaStore(t *testing.T) {
	stores := map[string]quota.Store{}
	computemwtest.QuotaStoreSuite(t, func(t *testing.T, ns string) quota.Store {
		if s, ok := stores[ns]; ok {
			return s
		}
		s := quota.NewMemoryStore()
		stores[ns] = s
		return s
	})
}

func TestMemoryQuotaShared(t *testing.T) {
	// One memory store shared by two kits in one process.
	stores := map[string]quota.Store{}
	computemwtest.SharedQuotaSuite(t, func(t *testing.T, ns string) quota.Store {
		if _, ok := stores[ns]; !ok {
			stores[ns] = quota.NewMemoryStore()
		}
		return stores[ns]
	})
}

// quotaFixture is a kit guarded by a Quota whose executions report
// computemwtest.Measured.
type quotaFixture struct {
	kit   *computemw.Kit
	fake  *fakeprovider.Provider
	quota *quota.Quota
	ctx   context.Context
}

func newQuotaFixture(t *testing.T, limits quota.Limits, cfg computemw.Config, qcfg quota.Config) *quotaFixture {
	t.Helper()
	qcfg.Plans = map[string]quota.Limits{"free": limits}
	if qcfg.Logger == nil {
		qcfg.Logger = policytest.DiscardLogger()
	}
	q, err := quota.New(qcfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Policies = append(cfg.Policies, q)
	cfg.Hooks = append(cfg.Hooks, q.Hooks())
	kit, fake := computemwtest.MeteredKit(t, cfg, computemwtest.Measured)
	return &quotaFixture{kit: kit, fake: fake, quota: q,
		ctx: computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice", Plan: "free"})}
}

func (f *quotaFixture) exec(command string) *httpapi.Response {
	return policytest.Post(f.ctx, f.kit, "/exec", `{"command":"`+command+`","timeout":100}`, nil)
}

func (f *quotaFixture) usage(t *testing.T) quota.Usage {
	t.Helper()
	u, _, err := f.quota.Usage(context.Background(), computemw.Principal{ID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestQuotaRecordsMeasuredUsage(t *testing.T) {
	f := newQuotaFixture(t, quota.Limits{}, computemw.Config{}, quota.Config{})
	steps := []struct {
		command string
		status  int
		want    quota.Usage
	}{
		{"echo hi", 200, quota.Usage{Executions: 1, CPUSeconds: 0.25, MemoryMBSeconds: 1}},
		{"exit 3", 200, quota.Usage{Executions: 2, CPUSeconds: 0.5, MemoryMBSeconds: 2}},
		// Stopped executions count, with what they used until stopped.
		{"sleep", 408, quota.Usage{Executions: 3, CPUSeconds: 0.75, MemoryMBSeconds: 3}},
		{"oom", 507, quota.Usage{Executions: 4, CPUSeconds: 1, MemoryMBSeconds: 4}},
		// An execution that could not run at all gives its reservation back.
		{"fail", 500, quota.Usage{Executions: 4, CPUSeconds: 1, MemoryMBSeconds: 4}},
	}
	for _, s := range steps {
		resp := f.exec(s.command)
		if resp.Status != s.status {
			t.Fatalf("%s: %d %s", s.command, resp.Status, resp.Body)
		}
		if u := f.usage(t); u != s.want {
			t.Errorf("after %s: %+v, want %+v", s.command, u, s.want)
		}
	}
}

func TestQuotaRefusesBeforeCreating(t *testing.T) {
	cases := []struct {
		name     string
		limits   quota.Limits
		admitted int
	}{
		{"executions", quota.Limits{Executions: 3}, 3},
		{"cpu seconds", quota.Limits{CPUSeconds: 0.5}, 2},
		{"memory MB-seconds", quota.Limits{MemoryMBSeconds: 3}, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newQuotaFixture(t, c.limits, computemw.Config{}, quota.Config{Period: quota.Every(time.Hour)})
			for i := range c.admitted {
				if resp := f.exec("echo hi"); resp.Status != 200 {
					t.Fatalf("execution %d: %d %s", i+1, resp.Status, resp.Body)
				}
			}
			created := f.fake.Created()
			resp := f.exec("echo hi")
			if resp.Status != 429 || !json.Valid(resp.Body) {
				t.Fatalf("over quota: %d %s", resp.Status, resp.Body)
			}
			var body httpapi.ErrorBody
			_ = json.Unmarshal(resp.Body, &body)
			if body.Code != computemw.CodeQuotaExceeded {
				t.Errorf("code %s", body.Code)
			}
			ra := resp.Header.Get("Retry-After")
			if d, err := time.ParseDuration(ra + "s"); err != nil || d < time.Second || d > time.Hour {
				t.Errorf("Retry-After %q, want the time to the end of the hour", ra)
			}
			// Files are refused too once a quota is spent.
			if resp := policytest.Post(f.ctx, f.kit, "/files", `{"action":"list","path":"."}`, nil); resp.Status != 429 {
				t.Errorf("files: %d %s", resp.Status, resp.Body)
			}
			if f.fake.Created() != created {
				t.Error("a refused request created a sandbox")
			}
			if u := f.usage(t); u.Executions != int64(c.admitted) {
				t.Errorf("recorded %d executions, want %d", u.Executions, c.admitted)
			}
		})
	}
}

func TestQuotaRollsBackRefusedReservations(t *testing.T) {
	f := newQuotaFixture(t, quota.Limits{Executions: 10}, computemw.Config{MaxSandboxes: 1, QueueTimeout: -1}, quota.Config{})
	// The first execution holds the only sandbox until the test lets go.
	hold, release := context.WithCancel(f.ctx)
	defer release()
	done := make(chan *httpapi.Response, 1)
	go func() {
		done <- policytest.Post(hold, f.kit, "/exec", `{"command":"block"}`, nil)
	}()
	select {
	case <-f.fake.Started():
	case <-time.After(10 * time.Second):
		t.Fatal("execution never started")
	}
	// The sandbox cap refuses the second execution after its reservation.
	if resp := f.exec("echo hi"); resp.Status != 503 {
		t.Fatalf("capacity: %d %s", resp.Status, resp.Body)
	}
	if u := f.usage(t); u.Executions != 1 {
		t.Errorf("executions %d after a capacity refusal, want 1", u.Executions)
	}
	release()
	<-done
}

func TestQuotaPolicyOrder(t *testing.T) {
	// A policy after the quota refuses: the reservation is given back.
	refuse := refusePolicy{}
	f := newQuotaFixture(t, quota.Limits{Executions: 10}, computemw.Config{}, quota.Config{})
	kit := policytest.NewKit(t, computemw.Config{
		Providers: []computemw.Provider{f.fake}, Policies: []computemw.Policy{f.quota, refuse}, Hooks: []*computemw.Hooks{f.quota.Hooks()},
	})
	if resp := policytest.Post(f.ctx, kit, "/exec", `{"command":"echo hi"}`, nil); resp.Status != 403 {
		t.Fatalf("%d %s", resp.Status, resp.Body)
	}
	if u := f.usage(t); u.Executions != 0 {
		t.Errorf("executions %d, want 0", u.Executions)
	}
}

type refusePolicy struct{}

func (refusePolicy) Admit(ctx context.Context, _ computemw.Op, _ *computemw.Request) (context.Context, error) {
	return ctx, nil
}
func (refusePolicy) Authorize(context.Context, *computemw.Action) error {
	return &computemw.Error{Code: computemw.CodeForbidden, Message: "no"}
}

// brokenQuotaStore is a quota store whose backend is down.
type brokenQuotaStore struct{}

func (brokenQuotaStore) Add(context.Context, string, quota.Period, quota.Usage) (quota.Usage, error) {
	return quota.Usage{}, policytest.ErrStoreDown
}
func (brokenQuotaStore) Get(context.Context, string, quota.Period) (quota.Usage, error) {
	return quota.Usage{}, policytest.ErrStoreDown
}

func TestQuotaStoreFailure(t *testing.T) {
	closed := newQuotaFixture(t, quota.Limits{Executions: 5}, computemw.Config{}, quota.Config{Store: brokenQuotaStore{}})
	if resp := closed.exec("echo hi"); resp.Status != 503 {
		t.Errorf("fail closed: %d %s", resp.Status, resp.Body)
	}
	if closed.fake.Created() != 0 {
		t.Error("created a sandbox with the quota store down")
	}
	if resp := computemwtest.ServePath(closed.ctx, closed.kit, http.MethodGet, "/usage", "", nil); resp.Status != 503 {
		t.Errorf("usage: %d %s", resp.Status, resp.Body)
	}
	open := newQuotaFixture(t, quota.Limits{Executions: 5}, computemw.Config{}, quota.Config{Store: brokenQuotaStore{}, FailOpen: true})
	if resp := open.exec("echo hi"); resp.Status != 200 {
		t.Errorf("fail open: %d %s", resp.Status, resp.Body)
	}
}

func TestQuotaNeedsPrincipal(t *testing.T) {
	f := newQuotaFixture(t, quota.Limits{}, computemw.Config{}, quota.Config{})
	if resp := policytest.Post(context.Background(), f.kit, "/exec", `{"command":"echo hi"}`, nil); resp.Status != 401 {
		t.Errorf("%d %s", resp.Status, resp.Body)
	}
}

func TestUsageRoute(t *testing.T) {
	f := newQuotaFixture(t, quota.Limits{Executions: 7, CPUSeconds: 100}, computemw.Config{}, quota.Config{})
	f.exec("echo hi")
	resp := computemwtest.ServePath(f.ctx, f.kit, http.MethodGet, "/usage", "", nil)
	if resp.Status != 200 {
		t.Fatalf("%d %s", resp.Status, resp.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"principal": "alice", "plan": "free", "period": "month",
		"usage":  map[string]any{"executions": 1.0, "cpuSeconds": 0.25, "memoryMBSeconds": 1.0},
		"limits": map[string]any{"executions": 7.0, "cpuSeconds": 100.0, "memoryMBSeconds": nil},
	}
	for k, v := range want {
		got, _ := json.Marshal(body[k])
		exp, _ := json.Marshal(v)
		if string(got) != string(exp) {
			t.Errorf("%s: %s, want %s", k, got, exp)
		}
	}
	p := quota.Monthly(time.Now())
	if body["periodStart"] != p.Start.Format(time.RFC3339) || body["periodEnd"] != p.End.Format(time.RFC3339) {
		t.Errorf("period %v – %v", body["periodStart"], body["periodEnd"])
	}

	// No authenticator: there is no caller to count for, and the answer
	// says so (404), rather than asking for credentials nothing checks.
	t.Run("no principal", func(t *testing.T) {
		resp := computemwtest.ServePath(context.Background(), f.kit, http.MethodGet, "/usage", "", nil)
		if resp.Status != 404 || !strings.Contains(string(resp.Body), "no authentication is configured") {
			t.Errorf("%d %v %s", resp.Status, resp.Header, resp.Body)
		}
	})
	t.Run("the authenticator's realm", func(t *testing.T) {
		authn, err := auth.New(auth.Config{APIKeys: map[string]computemw.Principal{auth.HashAPIKey("k"): {ID: "svc"}},
			Realm: "billing", PublicOps: []computemw.Op{computemw.OpUsage}})
		if err != nil {
			t.Fatal(err)
		}
		q, err := quota.New(quota.Config{})
		if err != nil {
			t.Fatal(err)
		}
		kit, _ := computemwtest.SuiteKit(t, computemw.Config{Policies: []computemw.Policy{authn, q}})
		resp := computemwtest.ServePath(context.Background(), kit, http.MethodGet, "/usage", "", nil)
		if resp.Status != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="billing"` {
			t.Errorf("%d %v", resp.Status, resp.Header)
		}
	})
	t.Run("no quota", func(t *testing.T) {
		kit, _ := computemwtest.SuiteKit(t, computemw.Config{})
		if resp := computemwtest.ServePath(f.ctx, kit, http.MethodGet, "/usage", "", nil); resp.Status != 404 {
			t.Errorf("%d %s", resp.Status, resp.Body)
		}
	})
}

func TestPeriods(t *testing.T) {
	at := time.Date(2025, time.December, 31, 23, 59, 0, 0, time.FixedZone("x", 3600))
	cases := []struct {
		name       string
		p          quota.Period
		start, end string
	}{
		{"month", quota.Monthly(at), "2025-12-01T00:00:00Z", "2026-01-01T00:00:00Z"},
		{"day", quota.Daily(at), "2025-12-31T00:00:00Z", "2026-01-01T00:00:00Z"},
		{"6h0m0s", quota.Every(6 * time.Hour)(at), "2025-12-31T18:00:00Z", "2026-01-01T00:00:00Z"},
	}
	for _, c := range cases {
		if c.p.Name != c.name || c.p.Start.Format(time.RFC3339) != c.start || c.p.End.Format(time.RFC3339) != c.end {
			t.Errorf("%s: got %s %v – %v", c.name, c.p.Name, c.p.Start, c.p.End)
		}
	}
}

func TestQuotaConfigErrors(t *testing.T) {
	if _, err := quota.New(quota.Config{Plans: map[string]quota.Limits{"pro": {}}}); err == nil {
		t.Error("missing default plan accepted")
	}
	if _, err := rbac.New(rbac.Config{DefaultRole: "wizard"}); err == nil {
		t.Error("unknown default role accepted")
	}
}

// An execution that cannot run after its reservation (an unknown session,
// a provider that fails to create the sandbox) gives the reservation back.
func TestQuotaReleasesWhatNeverRan(t *testing.T) {
	f := newQuotaFixture(t, quota.Limits{Executions: 3}, computemw.Config{}, quota.Config{})
	for range 5 {
		if resp := policytest.Post(f.ctx, f.kit, "/exec", `{"command":"echo hi","sandboxId":"nope"}`, nil); resp.Status != 404 {
			t.Fatalf("unknown session: %d %s", resp.Status, resp.Body)
		}
	}
	f.fake.CreateErr = errors.New("provider down")
	for range 5 {
		if resp := f.exec("echo hi"); resp.Status != 500 {
			t.Fatalf("failing provider: %d %s", resp.Status, resp.Body)
		}
	}
	f.fake.CreateErr = nil
	if u := f.usage(t); u.Executions != 0 {
		t.Errorf("executions %d after requests that never ran, want 0", u.Executions)
	}
	if resp := f.exec("echo hi"); resp.Status != 200 {
		t.Errorf("quota exhausted by requests that never ran: %d %s", resp.Status, resp.Body)
	}
}
