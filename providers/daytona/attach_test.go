package daytona_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/daytona"
	"github.com/computemw/kit/providers/daytona/daytonafake"
)

// A second provider on the same Daytona reaches a sandbox the first made,
// by its ID, and a detached sandbox outlives its provider's Close.
func TestAttachAndDetach(t *testing.T) {
	ctx := context.Background()
	p1, fake := newProvider(t, daytonafake.Options{}, daytona.Options{})
	p2, err := daytona.New(daytona.Options{APIKey: fake.APIKey, APIURL: fake.URL, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := p1.Create(ctx, computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := p2.Attach(ctx, sb.ID())
	if err != nil {
		t.Fatal(err)
	}
	if other.ID() != sb.ID() {
		t.Errorf("attached %s, want %s", other.ID(), sb.ID())
	}
	res, err := other.Exec(ctx, "echo attached", computemw.ExecOptions{})
	if err != nil || res.Stdout != "attached\n" {
		t.Fatalf("exec through the attached handle: %+v, %v", res, err)
	}
	if _, err := p2.Attach(ctx, "no-such-sandbox"); !errors.Is(err, computemw.ErrNotFound) {
		t.Errorf("attach to an unknown sandbox: %v, want NOT_FOUND", err)
	}
	// p2 lets go of its handle: closing it leaves the sandbox running.
	p2.Detach(other)
	if err := p2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if live := fake.Live(); len(live) != 1 {
		t.Fatalf("after the detached provider closed: %v live, want the one sandbox", live)
	}
	if err := sb.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
}
