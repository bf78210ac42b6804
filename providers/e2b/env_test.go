package e2b_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/e2b"
	"github.com/computemw/kit/providers/e2b/e2bfake"
)

// The provider is configured from E2B_API_KEY, E2B_API_URL, E2B_DOMAIN,
// E2B_TEMPLATE and E2B_SANDBOX_TIMEOUT, and works against the fake so.
func TestConfigFromEnv(t *testing.T) {
	f := e2bfake.New(t)
	t.Setenv(e2b.EnvAPIKey, f.APIKey())
	t.Setenv(e2b.EnvAPIURL, f.APIURL())
	t.Setenv(e2b.EnvDomain, e2bfake.Domain)
	t.Setenv(e2b.EnvTemplate, "from-env")
	t.Setenv(e2b.EnvSandboxTimeout, "120")
	opts, err := e2b.OptionsFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if opts.APIKey != f.APIKey() || opts.APIURL != f.APIURL() || opts.Domain != e2bfake.Domain ||
		opts.Template != "from-env" || opts.SandboxTimeout != 2*time.Minute {
		t.Fatalf("OptionsFromEnv = %+v", opts)
	}
	opts.HTTPClient = f.Client() // the only thing the environment cannot say
	p, err := e2b.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Close(context.Background()); err != nil {
			t.Error(err)
		}
		f.AssertNoneLive(t)
		opts.HTTPClient.CloseIdleConnections()
	}()
	ctx := testCtx(t)
	if err := p.CheckHealth(ctx); err != nil {
		t.Fatalf("CheckHealth: %v", err)
	}
	before := time.Now()
	sb, err := p.Create(ctx, computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(context.Background())
	if got := sb.(*e2b.Sandbox).Template(); got != "from-env" {
		t.Errorf("template %q, want from-env", got)
	}
	if end, _ := f.EndAt(sb.ID()); end.Sub(before) < 119*time.Second || end.Sub(before) > 122*time.Second {
		t.Errorf("lifetime %s, want 120s", end.Sub(before))
	}
	res, err := sb.Exec(ctx, "echo ok", computemw.ExecOptions{})
	if err != nil || res.Stdout != "ok\n" {
		t.Errorf("Exec = %+v, %v", res, err)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Setenv(e2b.EnvAPIKey, "")
	if _, err := e2b.FromEnv(); err == nil || !strings.Contains(err.Error(), e2b.EnvAPIKey) {
		t.Errorf("FromEnv without a key: %v, want an error naming %s", err, e2b.EnvAPIKey)
	}
	t.Setenv(e2b.EnvAPIKey, "k")
	for _, bad := range []string{"0", "-1", "1.5", "5m"} {
		t.Setenv(e2b.EnvSandboxTimeout, bad)
		if _, err := e2b.FromEnv(); err == nil {
			t.Errorf("%s=%q accepted", e2b.EnvSandboxTimeout, bad)
		}
	}
	t.Setenv(e2b.EnvSandboxTimeout, "")
	t.Setenv(e2b.EnvAPIURL, "ftp://x")
	if _, err := e2b.FromEnv(); err == nil {
		t.Error("an ftp API URL accepted")
	}
	t.Setenv(e2b.EnvAPIURL, "")
	p, err := e2b.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "e2b" {
		t.Errorf("Name() = %q", p.Name())
	}
	if _, err := e2b.New(e2b.Options{}); err == nil {
		t.Error("New without an API key succeeded")
	}
	if _, err := e2b.New(e2b.Options{APIKey: "k", Workdir: "relative"}); err == nil {
		t.Error("a relative Workdir accepted")
	}
}
