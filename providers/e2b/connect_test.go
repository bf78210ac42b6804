package e2b_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/e2b/e2bfake"
)

// connectStatuses returns the statuses the fake answered connect with, in
// order, failing the test on an answer the spec check did not pass.
func connectStatuses(t *testing.T, f *e2bfake.Fake) []int {
	t.Helper()
	var out []int
	for _, ex := range f.Exchanges() {
		if ex.Op != "POST /sandboxes/{sandboxID}/connect" {
			continue
		}
		if !ex.AnswerChecked {
			t.Errorf("connect answer %d not checked: %s", ex.Status, ex.Problem)
		}
		out = append(out, ex.Status)
	}
	return out
}

// Connect takes both of the spec's successes: 200 for a sandbox that was
// running and 201 for one it resumed from pause, after which the sandbox
// is running and its envd answers; connecting to a sandbox that does not
// exist is the spec's 404, reported as not found.
func TestConnectRunningPausedAndMissing(t *testing.T) {
	p, f := newProvider(t, nil)
	ctx := testCtx(t)
	sb := create(t, p, computemw.CreateOptions{})

	if _, err := p.Connect(ctx, sb.ID()); err != nil {
		t.Fatalf("Connect to a running sandbox: %v", err)
	}

	if !f.Pause(sb.ID()) {
		t.Fatal("the fake has no such sandbox to pause")
	}
	if info, err := p.Get(ctx, sb.ID()); err != nil || info.State != "paused" {
		t.Fatalf("Get of a paused sandbox = %+v, %v", info, err)
	}
	resumed, err := p.Connect(ctx, sb.ID())
	if err != nil {
		t.Fatalf("Connect to a paused sandbox: %v", err)
	}
	if info, err := p.Get(ctx, sb.ID()); err != nil || info.State != "running" {
		t.Errorf("Get once resumed = %+v, %v", info, err)
	}
	res, err := resumed.Exec(ctx, "echo back", computemw.ExecOptions{})
	if err != nil || string(res.Stdout) != "back\n" {
		t.Errorf("Exec in the resumed sandbox = %+v, %v", res, err)
	}

	if _, err := p.Connect(ctx, "fkmissing0000"); !errors.Is(err, computemw.ErrNotFound) {
		t.Errorf("Connect to a missing sandbox: %v, want not found", err)
	}

	got := connectStatuses(t, f)
	want := []int{http.StatusOK, http.StatusCreated, http.StatusNotFound}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("connect answered %v, want %v", got, want)
	}
}
