package k8sfake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	sandboxv1 "sigs.k8s.io/agent-sandbox/api/v1beta1"
	sandboxclient "sigs.k8s.io/agent-sandbox/clients/k8s/clientset/versioned"
	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"
	extv1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"
)

// Controller plays the agent-sandbox controller in one namespace: a new
// SandboxClaim gets a sandbox of the plane (named after its warm pool, as
// an adopted warm-pool sandbox is) and a Ready status pointing at it; a
// new Sandbox likewise; a deleted one loses its plane sandbox.
type Controller struct {
	Sandboxes  sandboxclient.Interface
	Extensions extclient.Interface
	Namespace  string
	Plane      *Plane
	// Hold, when it returns true for an object's name, leaves the object
	// never Ready (a slow cluster).
	Hold func(name string) bool

	mu     sync.Mutex
	names  map[string]string // claim -> its sandbox
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// Start starts the controller's watches; they begin before Start returns.
// t's cleanup (or Stop) ends them.
func (c *Controller) Start(ctx context.Context) error {
	c.names = map[string]string{}
	ctx, c.cancel = context.WithCancel(ctx)
	cw, err := c.Extensions.ExtensionsV1beta1().SandboxClaims(c.Namespace).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		c.cancel()
		return err
	}
	sw, err := c.Sandboxes.AgentsV1beta1().Sandboxes(c.Namespace).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		cw.Stop()
		c.cancel()
		return err
	}
	c.done.Go(func() { c.loop(ctx, cw) })
	c.done.Go(func() { c.loop(ctx, sw) })
	return nil
}

// Stop ends the watches and waits for them.
func (c *Controller) Stop() {
	c.cancel()
	c.done.Wait()
}

func (c *Controller) loop(ctx context.Context, w watch.Interface) {
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.ResultChan():
			if !ok {
				return
			}
			switch o := ev.Object.(type) {
			case *extv1.SandboxClaim:
				c.claim(ctx, ev.Type, o)
			case *sandboxv1.Sandbox:
				c.sandbox(ctx, ev.Type, o)
			}
		}
	}
}

func (c *Controller) claim(ctx context.Context, t watch.EventType, o *extv1.SandboxClaim) {
	if t == watch.Deleted {
		c.mu.Lock()
		name := c.names[o.Name]
		delete(c.names, o.Name)
		c.mu.Unlock()
		if name != "" {
			c.Plane.Remove(o.Namespace, name)
		}
		return
	}
	if o.Status.SandboxStatus.Name != "" || (c.Hold != nil && c.Hold(o.Name)) {
		return
	}
	name := o.Spec.WarmPoolRef.Name + "-" + suffix()
	env := map[string]string{}
	for _, e := range o.Spec.Env {
		env[e.Name] = e.Value
	}
	c.mu.Lock()
	c.names[o.Name] = name
	c.mu.Unlock()
	c.Plane.Add(o.Namespace, name, env)
	o = o.DeepCopy()
	o.Status.SandboxStatus = extv1.SandboxStatus{Name: name, PodIPs: []string{PodIP}}
	o.Status.Conditions = []metav1.Condition{readyCondition(o.Generation)}
	if _, err := c.Extensions.ExtensionsV1beta1().SandboxClaims(o.Namespace).UpdateStatus(ctx, o, metav1.UpdateOptions{}); err != nil {
		c.Plane.t.Logf("k8sfake: claim %s status: %v", o.Name, err)
	}
}

func (c *Controller) sandbox(ctx context.Context, t watch.EventType, o *sandboxv1.Sandbox) {
	if t == watch.Deleted {
		c.Plane.Remove(o.Namespace, o.Name)
		return
	}
	if len(o.Status.Conditions) > 0 || (c.Hold != nil && c.Hold(o.Name)) {
		return
	}
	env := map[string]string{}
	if cs := o.Spec.PodTemplate.Spec.Containers; len(cs) > 0 {
		for _, e := range cs[0].Env {
			env[e.Name] = e.Value
		}
	}
	c.Plane.Add(o.Namespace, o.Name, env)
	o = o.DeepCopy()
	o.Status.PodIPs = []string{PodIP}
	o.Status.Conditions = []metav1.Condition{readyCondition(o.Generation)}
	if _, err := c.Sandboxes.AgentsV1beta1().Sandboxes(o.Namespace).UpdateStatus(ctx, o, metav1.UpdateOptions{}); err != nil {
		c.Plane.t.Logf("k8sfake: sandbox %s status: %v", o.Name, err)
	}
}

func readyCondition(gen int64) metav1.Condition {
	return metav1.Condition{Type: string(sandboxv1.SandboxConditionReady), Status: metav1.ConditionTrue,
		Reason: sandboxv1.SandboxReasonDependenciesReady, Message: "pod is ready",
		ObservedGeneration: gen, LastTransitionTime: metav1.NewTime(time.Now().Truncate(time.Second))}
}

func suffix() string {
	var b [3]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])[:5]
}

// PodTemplate is a pod template for Sandboxes made without a warm pool.
func PodTemplate() *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
		Name: "sandboxd", Image: "us-central1-docker.pkg.dev/k8s-staging-images/agent-sandbox/sandboxd:latest-main",
	}}}}
}
