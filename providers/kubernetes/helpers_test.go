package kubernetes_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	sandboxfake "sigs.k8s.io/agent-sandbox/clients/k8s/clientset/versioned/fake"
	extfake "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned/fake"

	"github.com/computemw/kit/providers/kubernetes"
	"github.com/computemw/kit/providers/kubernetes/k8sfake"
)

const namespace = "sandboxes"

// env is a provider on client-go fakes, with the fake data plane and the
// fake controller.
type env struct {
	clients *kubernetes.Clients
	plane   *k8sfake.Plane
	ctrl    *k8sfake.Controller
	sbx     *sandboxfake.Clientset
	ext     *extfake.Clientset
}

// newEnv starts the fakes; t's cleanup checks that no claim or Sandbox is
// left in the API.
func newEnv(t *testing.T, hold func(string) bool) *env {
	t.Helper()
	e := &env{sbx: sandboxfake.NewSimpleClientset(), ext: extfake.NewSimpleClientset()}
	e.clients = &kubernetes.Clients{Sandboxes: e.sbx, Extensions: e.ext}
	e.plane = k8sfake.New(t)
	e.ctrl = &k8sfake.Controller{Sandboxes: e.sbx, Extensions: e.ext, Namespace: namespace, Plane: e.plane, Hold: hold}
	if err := e.ctrl.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.ctrl.Stop()
		e.checkEmpty(t)
	})
	return e
}

// checkEmpty fails t when a claim or Sandbox is left.
func (e *env) checkEmpty(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	cl, err := e.ext.ExtensionsV1beta1().SandboxClaims(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sl, err := e.sbx.AgentsV1beta1().Sandboxes(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cl.Items {
		t.Errorf("claim %s left", c.Name)
	}
	for _, s := range sl.Items {
		t.Errorf("sandbox %s left", s.Name)
	}
}

// options are provider options on the env, with a warm pool or (pool
// empty) a pod template.
func (e *env) options(pool string) kubernetes.Options {
	o := kubernetes.Options{
		Namespace:   namespace,
		Clients:     e.clients,
		RouterURL:   e.plane.RouterURL,
		ProcessPort: e.plane.ProcessPort,
		Instance:    "kit-0",
		WarmPool:    pool,
	}
	if pool == "" {
		o.PodTemplate = k8sfake.PodTemplate()
	}
	return o
}

// podExecOptions are options whose processes and files go through the
// fake's pods/exec.
func (e *env) podExecOptions(pool string) kubernetes.Options {
	o := e.options(pool)
	o.PodExec = true
	o.RESTConfig = &rest.Config{Host: e.plane.APIURL}
	o.WorkDir = "."
	return o
}

// newProvider makes a provider closed by t's cleanup.
func newProvider(t *testing.T, o kubernetes.Options) *kubernetes.Provider {
	t.Helper()
	p, err := kubernetes.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
