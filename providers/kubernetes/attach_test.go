package kubernetes_test

import (
	"context"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/kubernetes"
)

// A second provider attaches to a sandbox by ID, runs in it, and detaches
// without destroying it; unknown or foreign IDs are NOT_FOUND.
func TestAttachAndDetach(t *testing.T) {
	e := newEnv(t, nil)
	p1 := newProvider(t, e.options("pool"))
	p2 := newProvider(t, e.options("pool"))
	ctx := ctxT(t, 30*time.Second)
	sb, err := p1.Create(ctx, computemw.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Destroy(context.Background()) })
	if err := sb.WriteFile(ctx, "f", []byte("x")); err != nil {
		t.Fatal(err)
	}
	other, err := p2.Attach(ctx, sb.ID())
	if err != nil {
		t.Fatal(err)
	}
	if b, err := other.ReadFile(ctx, "f"); err != nil || string(b) != "x" {
		t.Fatalf("read through the attached handle: %q %v", b, err)
	}
	p2.Detach(other)
	if _, err := sb.Exec(ctx, "true", computemw.ExecOptions{}); err != nil {
		t.Errorf("the sandbox after the other's detach: %v", err)
	}
	if _, err := p2.Attach(ctx, "no-such-claim"); !errors.Is(err, computemw.ErrNotFound) {
		t.Errorf("attach to an unknown claim: %v", err)
	}
	// A claim the kit did not make.
	foreign := e.options("pool")
	foreign.Clients = e.clients
	if _, err := e.ext.ExtensionsV1beta1().SandboxClaims(namespace).Create(ctx, claim("foreign"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.ext.ExtensionsV1beta1().SandboxClaims(namespace).Delete(context.Background(), "foreign", metav1.DeleteOptions{})
	})
	if _, err := p2.Attach(ctx, "foreign"); !errors.Is(err, computemw.ErrNotFound) {
		t.Errorf("attach to a claim the kit did not make: %v", err)
	}
	var _ = kubernetes.LabelManaged
}
