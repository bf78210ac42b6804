package rbac_test

import (
	"context"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/computemw/internal/policytest"
	"github.com/computemw/kit/computemw/rbac"
)

func rbacRoles() map[string]rbac.Permissions {
	limits := rbac.ResourceLimits{MaxCPUCores: 1, MaxMemoryMB: 512, MaxExecutionTime: 10 * time.Second}
	return map[string]rbac.Permissions{
		"all":        {CanExecuteCode: true, CanAccessFiles: true, CanCreateSandbox: true, AllowedProviders: []string{"*"}, ResourceLimits: limits},
		"no-exec":    {CanAccessFiles: true, CanCreateSandbox: true, AllowedProviders: []string{"*"}},
		"no-files":   {CanExecuteCode: true, CanCreateSandbox: true, AllowedProviders: []string{"*"}},
		"no-create":  {CanExecuteCode: true, CanAccessFiles: true, AllowedProviders: []string{"*"}},
		"local-only": {CanExecuteCode: true, CanAccessFiles: true, CanCreateSandbox: true, AllowedProviders: []string{"local"}},
		"none":       {CanExecuteCode: true, CanAccessFiles: true, CanCreateSandbox: true},
		"ops":        {CanReadMetrics: true},
	}
}

func TestRBACPermissions(t *testing.T) {
	r, err := rbac.New(rbac.Config{Roles: rbacRoles()})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		role   string
		action computemw.Action
		status int
	}{
		{"execute", "all", computemw.Action{Op: computemw.OpExecute, Provider: "fake"}, 200},
		{"exec without permission", "no-exec", computemw.Action{Op: computemw.OpExec, Provider: "fake"}, 403},
		{"execute without permission", "no-exec", computemw.Action{Op: computemw.OpExecute, Provider: "fake"}, 403},
		{"files", "no-exec", computemw.Action{Op: computemw.OpFiles, Provider: "fake"}, 200},
		{"files without permission", "no-files", computemw.Action{Op: computemw.OpFiles, Provider: "fake"}, 403},
		{"stateless exec creates a sandbox", "no-create", computemw.Action{Op: computemw.OpExec, Provider: "fake", CreatesSandbox: true}, 403},
		{"exec in a session creates none", "no-create", computemw.Action{Op: computemw.OpExec, Provider: "fake", SandboxID: "s-1"}, 200},
		{"middleware creates a sandbox", "no-create", computemw.Action{Op: computemw.OpMiddleware, Provider: "fake", CreatesSandbox: true}, 403},
		{"create creates a sandbox", "no-create", computemw.Action{Op: computemw.OpCreate, Provider: "fake", CreatesSandbox: true}, 403},
		{"terminal without permission", "no-exec", computemw.Action{Op: computemw.OpTerminal, Provider: "fake", SandboxID: "s-1"}, 403},
		{"session creates a sandbox", "no-create", computemw.Action{Op: computemw.OpSessions, Provider: "fake", CreatesSandbox: true}, 403},
		{"listing sessions creates none", "no-create", computemw.Action{Op: computemw.OpSessions}, 200},
		{"metrics without permission", "all", computemw.Action{Op: computemw.OpMetrics}, 403},
		{"metrics", "ops", computemw.Action{Op: computemw.OpMetrics}, 200},
		{"provider allowed", "local-only", computemw.Action{Op: computemw.OpExec, Provider: "local"}, 200},
		{"provider not allowed", "local-only", computemw.Action{Op: computemw.OpExec, Provider: "fake"}, 403},
		{"no provider allowed", "none", computemw.Action{Op: computemw.OpExec, Provider: "local"}, 403},
		{"unknown role", "wizard", computemw.Action{Op: computemw.OpExec, Provider: "fake"}, 403},
		{"no role", "", computemw.Action{Op: computemw.OpExec, Provider: "fake"}, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "p", Role: c.role})
			a := c.action
			err := r.Authorize(ctx, &a)
			if got := computemw.StatusOf(err); got != c.status {
				t.Errorf("status %d (%v), want %d", got, err, c.status)
			}
		})
	}
	t.Run("no principal", func(t *testing.T) {
		policytest.WantStatus(t, r.Authorize(context.Background(), &computemw.Action{Op: computemw.OpExec, Provider: "fake"}), 401)
	})
	t.Run("default role", func(t *testing.T) {
		r, err := rbac.New(rbac.Config{Roles: rbacRoles(), DefaultRole: "all"})
		if err != nil {
			t.Fatal(err)
		}
		ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "p"})
		if err := r.Authorize(ctx, &computemw.Action{Op: computemw.OpExec, Provider: "fake"}); err != nil {
			t.Error(err)
		}
	})
}

func TestRBACLimits(t *testing.T) {
	const max = 10 * time.Second
	big := computemw.Resources{MemoryMB: 4096, CPUCores: 8, MaxExecutionTime: time.Minute}
	cases := []struct {
		name    string
		mode    rbac.LimitMode
		timeout time.Duration
		res     computemw.Resources
		status  int
		want    computemw.Action
	}{
		{"zero takes the limits", rbac.LimitClamp, 0, computemw.Resources{}, 200,
			computemw.Action{Timeout: max, Create: computemw.CreateOptions{Resources: computemw.Resources{MemoryMB: 512, CPUCores: 1, MaxExecutionTime: max}}}},
		{"within is kept", rbac.LimitClamp, 2 * time.Second, computemw.Resources{MemoryMB: 128, CPUCores: 0.5, MaxExecutionTime: time.Second}, 200,
			computemw.Action{Timeout: 2 * time.Second, Create: computemw.CreateOptions{Resources: computemw.Resources{MemoryMB: 128, CPUCores: 0.5, MaxExecutionTime: time.Second}}}},
		{"above is clamped", rbac.LimitClamp, time.Hour, big, 200,
			computemw.Action{Timeout: max, Create: computemw.CreateOptions{Resources: computemw.Resources{MemoryMB: 512, CPUCores: 1, MaxExecutionTime: max}}}},
		{"above timeout is refused", rbac.LimitRefuse, time.Hour, computemw.Resources{}, 403, computemw.Action{}},
		{"above memory is refused", rbac.LimitRefuse, time.Second, computemw.Resources{MemoryMB: 4096}, 403, computemw.Action{}},
		{"above cpu is refused", rbac.LimitRefuse, time.Second, computemw.Resources{CPUCores: 8}, 403, computemw.Action{}},
		{"refuse mode fills zeros", rbac.LimitRefuse, 0, computemw.Resources{}, 200,
			computemw.Action{Timeout: max, Create: computemw.CreateOptions{Resources: computemw.Resources{MemoryMB: 512, CPUCores: 1, MaxExecutionTime: max}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := rbac.New(rbac.Config{Roles: rbacRoles(), Mode: c.mode})
			if err != nil {
				t.Fatal(err)
			}
			ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "p", Role: "all"})
			a := computemw.Action{Op: computemw.OpExec, Provider: "fake", Timeout: c.timeout, Create: computemw.CreateOptions{Resources: c.res}, CreatesSandbox: true}
			err = r.Authorize(ctx, &a)
			if got := computemw.StatusOf(err); got != c.status {
				t.Fatalf("status %d (%v), want %d", got, err, c.status)
			}
			if c.status == 200 && (a.Timeout != c.want.Timeout || a.Create.Resources != c.want.Create.Resources) {
				t.Errorf("got timeout %v resources %+v, want %v %+v", a.Timeout, a.Create.Resources, c.want.Timeout, c.want.Create.Resources)
			}
		})
	}
}

// recordingProvider remembers the options of the sandboxes it creates.
type recordingProvider struct {
	*fakeprovider.Provider
	opts chan computemw.CreateOptions
}

func (p *recordingProvider) Create(ctx context.Context, o computemw.CreateOptions) (computemw.Sandbox, error) {
	p.opts <- o
	return p.Provider.Create(ctx, o)
}

func TestRBACLimitsReachTheSandbox(t *testing.T) {
	r, err := rbac.New(rbac.Config{Roles: rbacRoles()})
	if err != nil {
		t.Fatal(err)
	}
	prov := &recordingProvider{Provider: fakeprovider.New("fake"), opts: make(chan computemw.CreateOptions, 1)}
	kit := policytest.NewKit(t, computemw.Config{Providers: []computemw.Provider{prov}, Policies: []computemw.Policy{r}})
	ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "p", Role: "all"})
	resp := policytest.Post(ctx, kit, "/exec", `{"command":"echo hi","timeout":60000}`, nil)
	if resp.Status != 200 {
		t.Fatalf("%d %s", resp.Status, resp.Body)
	}
	got := <-prov.opts
	if got.Resources != (computemw.Resources{MemoryMB: 512, CPUCores: 1, MaxExecutionTime: 10 * time.Second}) {
		t.Errorf("sandbox created with %+v", got.Resources)
	}
}

// A role's template applies to the sandboxes its requests create when
// they name none, and to nothing else.
func TestRBACRoleTemplate(t *testing.T) {
	roles := rbacRoles()
	all := roles["all"]
	all.Template = "python-data"
	roles["all"] = all
	r, err := rbac.New(rbac.Config{Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "p", Role: "all"})
	cases := []struct {
		name string
		a    computemw.Action
		want string
	}{
		{"creates, names none", computemw.Action{Op: computemw.OpExec, Provider: "fake", CreatesSandbox: true}, "python-data"},
		{"creates, names one", computemw.Action{Op: computemw.OpExec, Provider: "fake", CreatesSandbox: true, Create: computemw.CreateOptions{Template: "node"}}, "node"},
		{"uses a session", computemw.Action{Op: computemw.OpExec, Provider: "fake", SandboxID: "s1"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := c.a
			if err := r.Authorize(ctx, &a); err != nil {
				t.Fatal(err)
			}
			if a.Create.Template != c.want {
				t.Errorf("template %q, want %q", a.Create.Template, c.want)
			}
		})
	}
}

// A compile limit of its own is held to the role's MaxExecutionTime like
// the timeout: kept within it, clamped or refused above it, and left
// unset when not asked for.
func TestRBACCompileTimeout(t *testing.T) {
	ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "p", Role: "all"})
	for _, c := range []struct {
		name   string
		mode   rbac.LimitMode
		asked  time.Duration
		want   time.Duration
		status int
	}{
		{"not asked", rbac.LimitClamp, 0, 0, 200},
		{"within", rbac.LimitRefuse, 3 * time.Second, 3 * time.Second, 200},
		{"above is clamped", rbac.LimitClamp, time.Minute, 10 * time.Second, 200},
		{"above is refused", rbac.LimitRefuse, time.Minute, 0, 403},
	} {
		r, err := rbac.New(rbac.Config{Roles: rbacRoles(), Mode: c.mode})
		if err != nil {
			t.Fatal(err)
		}
		a := computemw.Action{Op: computemw.OpExecute, Provider: "fake", Timeout: time.Second, CompileTimeout: c.asked}
		err = r.Authorize(ctx, &a)
		if got := computemw.StatusOf(err); err != nil && got != c.status || err == nil && c.status != 200 {
			t.Errorf("%s: %v, want status %d", c.name, err, c.status)
		}
		if err == nil && a.CompileTimeout != c.want {
			t.Errorf("%s: compile limit %v, want %v", c.name, a.CompileTimeout, c.want)
		}
	}
}
