package computemw_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/computemw/rbac"
)

// listing is a provider that describes its runtimes, counting the calls;
// it fails while fail is set.
type listing struct {
	*fakeprovider.Provider
	calls   atomic.Int32
	fail    atomic.Bool
	started chan struct{}
	proceed chan struct{}
}

func (l *listing) Runtimes(ctx context.Context) ([]computemw.Runtime, error) {
	l.calls.Add(1)
	if l.started != nil {
		l.started <- struct{}{}
		<-l.proceed
	}
	if l.fail.Load() {
		return nil, errors.New("probe failed at /var/lib/secret")
	}
	return []computemw.Runtime{{Name: "python", Aliases: []string{"py"}, Version: "Python 3.11.2", Extension: ".py"}, {Name: "bash"}}, nil
}

func getLanguages(t *testing.T, kit *computemw.Kit) (int, httpapi.LanguagesResponse, []byte) {
	t.Helper()
	resp := computemwtest.ServePath(context.Background(), kit, http.MethodGet, "/languages", "", nil)
	var body httpapi.LanguagesResponse
	if resp.Status == http.StatusOK {
		if err := json.Unmarshal(resp.Body, &body); err != nil {
			t.Fatalf("body: %v: %s", err, resp.Body)
		}
	}
	return resp.Status, body, resp.Body
}

func TestLanguagesListsOnceAndKeeps(t *testing.T) {
	l := &listing{Provider: fakeprovider.New("lists")}
	plain := fakeprovider.New("plain")
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{l, plain}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kit.Close(context.Background()) })

	l.fail.Store(true)
	status, body, raw := getLanguages(t, kit)
	if status != 200 || len(body.Providers) != 2 || body.DefaultProvider != "lists" {
		t.Fatalf("%d %s", status, raw)
	}
	failed := body.Providers[0]
	if failed.Provider != "lists" || failed.Error == "" || len(failed.Runtimes) != 3 || failed.Runtimes[0].Name != "bash" {
		t.Errorf("a failed listing must say so and name the languages: %s", raw)
	}
	if bytes.Contains(raw, []byte("/var/lib")) || bytes.Contains(raw, []byte("secret")) {
		t.Errorf("the cause leaked: %s", raw)
	}
	if p := body.Providers[1]; p.Provider != "plain" || len(p.Runtimes) != 3 || p.Runtimes[2].Name != "python" || p.Runtimes[2].Aliases == nil {
		t.Errorf("a provider without runtimes: %+v", p)
	}

	// A failure is not kept; a success is, for every later caller.
	l.fail.Store(false)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			status, body, raw := getLanguages(t, kit)
			rts := body.Providers[0].Runtimes
			if status != 200 || len(rts) != 2 || rts[0].Version != "Python 3.11.2" || rts[1].Aliases == nil {
				t.Errorf("%d %s", status, raw)
			}
		})
	}
	wg.Wait()
	if n := l.calls.Load(); n != 2 {
		t.Errorf("Runtimes called %d times, want 2 (one failure, one success)", n)
	}
	if _, err := kit.Runtimes(context.Background(), "nope"); computemw.StatusOf(err) != 400 {
		t.Errorf("unknown provider: %v", err)
	}
}

// A caller that gives up while another lists waits no longer than its
// context.
func TestLanguagesWaitIsBounded(t *testing.T) {
	l := &listing{Provider: fakeprovider.New("slow"), started: make(chan struct{}), proceed: make(chan struct{})}
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{l}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kit.Close(context.Background()) })
	done := make(chan error, 1)
	go func() {
		_, err := kit.Runtimes(context.Background(), "")
		done <- err
	}()
	<-l.started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := kit.Runtimes(ctx, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("a second caller with a done context: %v", err)
	}
	close(l.proceed)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// refuser refuses every action of one operation.
type refuser struct{ op computemw.Op }

func (r refuser) Admit(ctx context.Context, _ computemw.Op, _ *computemw.Request) (context.Context, error) {
	return ctx, nil
}

func (r refuser) Authorize(_ context.Context, a *computemw.Action) error {
	if a.Op == r.op {
		return &computemw.Error{Code: computemw.CodeForbidden, Message: "no"}
	}
	return nil
}

func TestLanguagesIsGoverned(t *testing.T) {
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{Policies: []computemw.Policy{refuser{computemw.OpLanguages}}})
	if status, _, raw := getLanguages(t, kit); status != 403 {
		t.Errorf("a refused caller: %d %s", status, raw)
	}
	resp := computemwtest.ServePath(context.Background(), kit, http.MethodGet, "/openapi.json", "", nil)
	var doc map[string]any
	if resp.Status != 200 || json.Unmarshal(resp.Body, &doc) != nil || doc["openapi"] != "3.1.0" {
		t.Errorf("GET /openapi.json: %d", resp.Status)
	}
	if got := httpapi.OpenAPI(); string(got) != string(resp.Body) {
		t.Error("OpenAPI() differs from what GET /openapi.json serves")
	}
}

// Under RBAC, listing is a read: a viewer, who may create nothing, may list;
// a role the table does not know may not.
func TestLanguagesUnderRBAC(t *testing.T) {
	roles, err := rbac.New(rbac.Config{})
	if err != nil {
		t.Fatal(err)
	}
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{Policies: []computemw.Policy{roles}})
	for role, want := range map[string]int{"viewer": 200, "monitor": 200, "nobody": 403} {
		ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "p", Role: role})
		if r := computemwtest.ServePath(ctx, kit, http.MethodGet, "/languages", "", nil); r.Status != want {
			t.Errorf("%s: %d %s, want %d", role, r.Status, r.Body, want)
		}
	}
}
