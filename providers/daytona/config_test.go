package daytona_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/daytona"
	"github.com/computemw/kit/providers/daytona/daytonafake"
	"github.com/computemw/kit/providers/internal/providertest"
)

func TestOptionsFromEnv(t *testing.T) {
	t.Setenv("DAYTONA_API_KEY", "k-123")
	t.Setenv("DAYTONA_API_URL", "https://daytona.example/api")
	t.Setenv("DAYTONA_ORGANIZATION_ID", "org-9")
	t.Setenv("DAYTONA_TARGET", "eu")
	t.Setenv("DAYTONA_SNAPSHOT", "my-snapshot")
	t.Setenv("DAYTONA_DISK_GB", "7")
	t.Setenv("DAYTONA_AUTO_STOP_MINUTES", "-1")
	o, err := daytona.OptionsFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	want := daytona.Options{APIKey: "k-123", APIURL: "https://daytona.example/api", OrganizationID: "org-9",
		Target: "eu", Snapshot: "my-snapshot", DiskGB: 7, AutoStopMinutes: -1}
	if o.APIKey != want.APIKey || o.APIURL != want.APIURL || o.OrganizationID != want.OrganizationID ||
		o.Target != want.Target || o.Snapshot != want.Snapshot || o.DiskGB != want.DiskGB || o.AutoStopMinutes != want.AutoStopMinutes {
		t.Errorf("OptionsFromEnv = %+v, want %+v", o, want)
	}

	t.Setenv("DAYTONA_DISK_GB", "seven")
	if _, err := daytona.OptionsFromEnv(); err == nil || !strings.Contains(err.Error(), "DAYTONA_DISK_GB") {
		t.Errorf("a bad DAYTONA_DISK_GB: %v", err)
	}
	t.Setenv("DAYTONA_DISK_GB", "")
	t.Setenv("DAYTONA_API_KEY", "")
	if _, err := daytona.FromEnv(); err == nil || !strings.Contains(err.Error(), "DAYTONA_API_KEY") {
		t.Errorf("FromEnv without a key: %v", err)
	}
	t.Setenv("DAYTONA_API_KEY", "k")
	t.Setenv("DAYTONA_API_URL", "ftp://nope")
	if _, err := daytona.FromEnv(); err == nil {
		t.Error("FromEnv accepted an ftp URL")
	}
}

// FromEnv makes a working provider: the fake checks the key and URL.
func TestFromEnvAgainstFake(t *testing.T) {
	fake := daytonafake.New(t, daytonafake.Options{APIKey: "env-key"})
	t.Setenv("DAYTONA_API_KEY", "env-key")
	t.Setenv("DAYTONA_API_URL", fake.URL)
	t.Setenv("DAYTONA_TARGET", "us")
	t.Setenv("DAYTONA_AUTO_STOP_MINUTES", "15")
	p, err := daytona.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	ctx := ctxT(t, 20*time.Second)
	if err := p.CheckHealth(ctx); err != nil {
		t.Fatalf("CheckHealth: %v", err)
	}
	sb, err := p.Create(ctx, computemw.CreateOptions{
		Template:  "python-snap",
		Env:       map[string]string{"A": "1"},
		Metadata:  map[string]string{"owner": "alice"},
		Resources: computemw.Resources{CPUCores: 1.5, MemoryMB: 1536},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(ctx)
	got := fake.Created(sb.ID())
	// Units of the spec: whole cores, GB, minutes.
	for k, want := range map[string]any{"cpu": 2.0, "memory": 2.0, "autoStopInterval": 15.0, "target": "us",
		"snapshot": "python-snap", "networkBlockAll": true} {
		if got[k] != want {
			t.Errorf("create request %s = %v, want %v", k, got[k], want)
		}
	}
	labels, _ := got["labels"].(map[string]any)
	if labels["owner"] != "alice" || labels[daytona.LabelManaged] != "true" {
		t.Errorf("labels = %v", labels)
	}
	if env, _ := got["env"].(map[string]any); env["A"] != "1" {
		t.Errorf("env = %v", got["env"])
	}

	d := sb.(*daytona.Sandbox)
	if err := d.KeepAlive(ctx); err != nil {
		t.Fatal(err)
	}
	if n := fake.Activity(sb.ID()); n != 1 {
		t.Errorf("activity refreshed %d times, want 1", n)
	}
	if got := fake.AutoStop(sb.ID()); got != 15 {
		t.Errorf("auto-stop after create = %d minutes, want 15", got)
	}
	if err := d.SetAutoStop(ctx, 45); err != nil {
		t.Fatal(err)
	}
	if got := fake.AutoStop(sb.ID()); got != 45 {
		t.Errorf("auto-stop after SetAutoStop(45) = %d minutes", got)
	}
	info, err := p.Get(ctx, sb.ID())
	if err != nil || info.State != "started" || info.CPU != 2 || info.MemoryGB != 2 {
		t.Errorf("Get = %+v, %v", info, err)
	}
	list, err := p.List(ctx, 0)
	if err != nil || len(list) != 1 || list[0].ID != sb.ID() {
		t.Errorf("List = %+v, %v", list, err)
	}
	if err := sb.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	// Daytona's delete passes through "destroying" (the sandbox is still
	// found by ID) before the sandbox is not found; deleting it again
	// meanwhile is a conflict that Delete takes as done.
	if info, err := p.Get(ctx, sb.ID()); err != nil || info.State != "destroying" {
		t.Errorf("Get right after Destroy = %+v, %v; want state destroying", info, err)
	}
	if err := p.Delete(ctx, sb.ID()); err != nil {
		t.Errorf("Delete of a sandbox being destroyed: %v", err)
	}
	if _, err := p.Get(ctx, sb.ID()); !errors.Is(err, computemw.ErrNotFound) {
		t.Errorf("Get once destroyed: %v", err)
	}
	if err := d.KeepAlive(ctx); !errors.Is(err, computemw.ErrNotFound) {
		t.Errorf("KeepAlive after Destroy: %v", err)
	}
}

// What Daytona cannot do answers a clear error, never an empty result.
func TestNotSupported(t *testing.T) {
	p, _ := newProvider(t, daytonafake.Options{}, daytona.Options{})
	sb := create(t, p, computemw.CreateOptions{})
	_, err := sb.RunCode(ctxT(t, 10*time.Second), "typescript", "console.log(1)", computemw.ExecOptions{Stdout: &signalWriter{seen: make(chan struct{})}})
	e := providertest.WantCode(t, "streamed typescript", err, computemw.CodeExecution)
	if !strings.Contains(e.Message, "not supported by provider daytona") {
		t.Errorf("message %q", e.Message)
	}
	_, err = sb.RunCode(ctxT(t, 10*time.Second), "cobol", "x", computemw.ExecOptions{})
	providertest.WantCode(t, "unknown language", err, computemw.CodeExecution)
	if _, ok := any(sb).(computemw.TerminalOpener); ok {
		t.Error("the sandbox claims terminals, which the toolbox spec does not describe")
	}
	var big strings.Builder
	big.WriteString(strings.Repeat("x", daytona.DefaultMaxStdinBytes+1))
	_, err = sb.Exec(ctxT(t, 10*time.Second), "cat", computemw.ExecOptions{Stdin: strings.NewReader(big.String())})
	providertest.WantCode(t, "oversized stdin", err, computemw.CodePayloadTooLarge)
}

func TestNewRejectsBadOptions(t *testing.T) {
	if _, err := daytona.New(daytona.Options{}); err == nil {
		t.Error("New without an API key succeeded")
	}
	if _, err := daytona.New(daytona.Options{APIKey: "k", APIURL: "not a url"}); err == nil {
		t.Error("New with a bad URL succeeded")
	}
}
