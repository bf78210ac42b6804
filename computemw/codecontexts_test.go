package computemw_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/computemw/httpapi"
)

// contextProvider is a fake provider whose sandboxes hold code contexts
// that echo their code.
type contextProvider struct{ *fakeprovider.Provider }

func (p contextProvider) Create(ctx context.Context, opts computemw.CreateOptions) (computemw.Sandbox, error) {
	sb, err := p.Provider.Create(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &contextSandbox{Sandbox: sb}, nil
}

type contextSandbox struct {
	computemw.Sandbox
	ran int
}

func (s *contextSandbox) CreateContext(_ context.Context, o computemw.ContextOptions) (computemw.CodeContext, error) {
	return computemw.CodeContext{ID: "ctx-1", Language: o.Language}, nil
}
func (s *contextSandbox) Contexts(context.Context) ([]computemw.CodeContext, error) {
	return []computemw.CodeContext{{ID: "ctx-1", Language: "python"}}, nil
}
func (s *contextSandbox) RunInContext(_ context.Context, id, code string, _ computemw.ExecOptions) (*computemw.ContextResult, error) {
	s.ran++
	return &computemw.ContextResult{Result: computemw.Result{Stdout: code}, Results: []computemw.DisplayData{{Data: map[string]string{"text/plain": "1"}, IsMain: true}}}, nil
}
func (s *contextSandbox) InterruptContext(context.Context, string) error { return nil }
func (s *contextSandbox) RestartContext(context.Context, string) error   { return nil }
func (s *contextSandbox) DeleteContext(context.Context, string) error    { return nil }

// A sandbox offers code contexts exactly when its provider's does; a
// context execution is governed (reported to the hooks, its code
// bounded); a provider without contexts answers the stable
// EXECUTION_ERROR, over HTTP too.
func TestCodeContextsGoverned(t *testing.T) {
	var finished []string
	hooks := &computemw.Hooks{ExecutionFinished: func(_ context.Context, a *computemw.Action, res *computemw.Result, _ error, _ time.Duration) {
		finished = append(finished, string(a.Op)+" "+a.Language+" "+res.SandboxID)
	}}
	kit, err := computemw.New(computemw.Config{
		Providers: []computemw.Provider{fakeprovider.New("plain"), contextProvider{fakeprovider.New("ctx")}},
		Hooks:     []*computemw.Hooks{hooks},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kit.Close(context.Background()) })
	ctx := t.Context()

	plain, err := kit.Create(ctx, "plain", computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Destroy(ctx)
	if _, ok := plain.(computemw.ContextRunner); ok {
		t.Fatal("a sandbox whose provider holds no contexts offers ContextRunner")
	}

	sb, err := kit.Create(ctx, "ctx", computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(ctx)
	cr, ok := sb.(computemw.ContextRunner)
	if !ok {
		t.Fatal("the governed sandbox hides its provider's ContextRunner")
	}
	c, err := cr.CreateContext(ctx, computemw.ContextOptions{Language: "python"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := cr.RunInContext(ctx, c.ID, "x = 41", computemw.ExecOptions{})
	if err != nil || res.Stdout != "x = 41" || res.SandboxID != sb.ID() || len(res.Results) != 1 {
		t.Fatalf("RunInContext = %+v, %v", res, err)
	}
	if len(finished) != 1 || finished[0] != "execute python "+sb.ID() {
		t.Fatalf("hooks saw %v", finished)
	}
	_, err = cr.RunInContext(ctx, c.ID, strings.Repeat("x", computemw.MaxContextCodeBytes+1), computemw.ExecOptions{})
	if computemw.AsError(err).Code != computemw.CodePayloadTooLarge {
		t.Fatalf("code too large: %v", err)
	}
	_, err = cr.RunInContext(ctx, "ctx-unknown", "1", computemw.ExecOptions{})
	if computemw.AsError(err).Code != computemw.CodeNotFound {
		t.Fatalf("unknown context: %v", err)
	}
	_, err = cr.CreateContext(ctx, computemw.ContextOptions{})
	if computemw.AsError(err).Code != computemw.CodeBadRequest {
		t.Fatalf("no language: %v", err)
	}
	if len(finished) != 1 {
		t.Fatalf("refused executions reached the hooks: %v", finished)
	}

	// Over HTTP, a session of the provider without contexts.
	resp := computemwtest.ServePath(ctx, kit, http.MethodPost, "/sandboxes", `{"provider":"plain"}`, nil)
	var sess struct {
		SandboxID string `json:"sandboxId"`
	}
	if resp.Status != 201 || json.Unmarshal(resp.Body, &sess) != nil {
		t.Fatalf("POST /sandboxes: %d %s", resp.Status, resp.Body)
	}
	resp = httpapi.New(kit).ServeRoute(ctx, computemwtest.RouteOf(kit, "/sandboxes/{id}/contexts"), &computemw.Request{
		Method: http.MethodPost, Params: map[string]string{"id": sess.SandboxID}, Header: http.Header{"Content-Type": {"application/json"}},
		Body: strings.NewReader(`{"language":"python"}`), RemoteAddr: "127.0.0.1:40000",
	})
	var body struct {
		Code  string `json:"code"`
		Error string `json:"error"`
	}
	if resp.Status != 400 || json.Unmarshal(resp.Body, &body) != nil || body.Code != string(computemw.CodeExecution) || !strings.Contains(body.Error, "code contexts") {
		t.Fatalf("contexts on a provider without them: %d %s", resp.Status, resp.Body)
	}
}
