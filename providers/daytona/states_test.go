package daytona_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/daytona"
	"github.com/computemw/kit/providers/daytona/daytonafake"
	"github.com/computemw/kit/providers/internal/providertest"
)

// List follows Daytona's cursor pages to the end.
func TestListFollowsPages(t *testing.T) {
	p, fake := newProvider(t, daytonafake.Options{PageSize: 2}, daytona.Options{})
	want := map[string]bool{}
	for range 5 {
		want[create(t, p, computemw.CreateOptions{}).ID()] = true
	}
	list, err := p.List(ctxT(t, 10*time.Second), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range list {
		delete(want, it.ID)
	}
	if len(list) != 5 || len(want) != 0 {
		t.Errorf("List = %d sandboxes, missing %v", len(list), want)
	}
	if n := fake.Calls("listSandboxes"); n != 3 {
		t.Errorf("%d pages fetched, want 3", n)
	}
	if got, err := p.List(ctxT(t, 10*time.Second), 3); err != nil || len(got) != 3 {
		t.Errorf("List(3) = %d, %v", len(got), err)
	}
}

// A sandbox whose snapshot fails to build while it starts is an
// UNAVAILABLE create, and the sandbox is deleted (newProvider checks the
// fake's books).
func TestCreateBuildFailedWhileStarting(t *testing.T) {
	p, fake := newProvider(t, daytonafake.Options{StartPolls: 2, StartState: "build_failed"}, daytona.Options{})
	_, err := p.Create(ctxT(t, 10*time.Second), computemw.CreateOptions{})
	e := providertest.WantCode(t, "Create", err, computemw.CodeUnavailable)
	if !strings.Contains(e.Error(), "build_failed") {
		t.Errorf("error %v does not name the state", e)
	}
	if fake.Made() != 1 {
		t.Errorf("made %d sandboxes", fake.Made())
	}
	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	if n := fake.Calls("deleteSandbox"); n != 1 {
		t.Errorf("deleteSandbox called %d times, want 1", n)
	}
}

// A create answered 201 (what a NestJS POST answers by default) is a
// created sandbox.
func TestCreateAnswered201(t *testing.T) {
	p, fake := newProvider(t, daytonafake.Options{}, daytona.Options{})
	fake.Inject(daytonafake.Fault{Op: "createSandbox", CreatedStatus: 201})
	sb := create(t, p, computemw.CreateOptions{})
	if res, err := sb.Exec(ctxT(t, 10*time.Second), "echo ok", computemw.ExecOptions{}); err != nil || res.Stdout != "ok\n" {
		t.Errorf("Exec = %+v, %v", res, err)
	}
}

// A toolbox that answers 409 (the sandbox is not started: stopped or
// being destroyed) makes a connection (Attach) and a command fail as
// UNAVAILABLE; the attach is not tracked.
func TestToolboxConflict(t *testing.T) {
	p, fake := newProvider(t, daytonafake.Options{}, daytona.Options{})
	sb := create(t, p, computemw.CreateOptions{})
	p2, err := daytona.New(daytona.Options{APIKey: fake.APIKey, APIURL: fake.URL, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p2.Close(context.Background()) })
	fake.Inject(daytonafake.Fault{Op: "GetWorkDir", Status: 409})
	_, err = p2.Attach(ctxT(t, 10*time.Second), sb.ID())
	providertest.WantCode(t, "Attach", err, computemw.CodeUnavailable)
	if err := p2.Close(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if live := fake.Live(); len(live) != 1 {
		t.Errorf("Close of the provider whose Attach failed deleted the sandbox: live %v", live)
	}
	fake.Inject(daytonafake.Fault{Op: "CreateSession", Status: 409})
	_, err = sb.Exec(ctxT(t, 10*time.Second), "true", computemw.ExecOptions{})
	providertest.WantCode(t, "Exec", err, computemw.CodeUnavailable)
	if _, err := sb.Exec(ctxT(t, 10*time.Second), "true", computemw.ExecOptions{}); err != nil {
		t.Errorf("Exec after the conflict: %v", err)
	}
}

// A sandbox being destroyed (still found by ID, in state destroying)
// cannot be attached: NOT_FOUND.
func TestAttachWhileDestroying(t *testing.T) {
	p, fake := newProvider(t, daytonafake.Options{DestroyPolls: 3}, daytona.Options{})
	sb := create(t, p, computemw.CreateOptions{})
	if err := sb.Destroy(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	p2, err := daytona.New(daytona.Options{APIKey: fake.APIKey, APIURL: fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p2.Close(context.Background()) })
	_, err = p2.Attach(ctxT(t, 10*time.Second), sb.ID())
	e := providertest.WantCode(t, "Attach", err, computemw.CodeNotFound)
	if !strings.Contains(e.Message, "destroying") {
		t.Errorf("message %q does not name the state", e.Message)
	}
}
