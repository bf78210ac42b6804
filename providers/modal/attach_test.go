package modal_test

import (
	"context"
	"errors"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/modal"
)

// A second provider on the same Modal reaches a sandbox the first made,
// by its ID, and a detached sandbox outlives its provider's Close.
func TestAttachAndDetach(t *testing.T) {
	ctx := ctxT(t, 30e9)
	p1, fake := newProvider(t, modal.Options{})
	p2 := providerOn(t, fake, modal.Options{})
	sb := create(t, p1, computemw.CreateOptions{})
	other, err := p2.Attach(ctx, sb.ID())
	if err != nil {
		t.Fatal(err)
	}
	res, err := other.Exec(ctx, "echo attached", computemw.ExecOptions{})
	if err != nil || res.Stdout != "attached\n" {
		t.Fatalf("exec through the attached handle: %+v, %v", res, err)
	}
	if _, err := p2.Attach(ctx, "sb2-no-such-sandbox"); !errors.Is(err, computemw.ErrNotFound) {
		t.Errorf("attach to an unknown sandbox: %v, want NOT_FOUND", err)
	}
	p2.Detach(other)
	if err := p2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if live := fake.Live(); len(live) != 1 {
		t.Fatalf("after the detached provider closed: %v live, want the one sandbox", live)
	}
	if err := sb.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p2.Attach(ctx, sb.ID()); err == nil {
		t.Error("attach to a terminated sandbox succeeded")
	}
}
