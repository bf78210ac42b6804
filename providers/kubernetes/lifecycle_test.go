package kubernetes_test

import (
	"context"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	extv1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/kubernetes"
)

func claim(name string) *extv1.SandboxClaim {
	return &extv1.SandboxClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: extv1.SandboxClaimSpec{WarmPoolRef: extv1.SandboxWarmPoolRef{Name: "pool"}}}
}

// held reports the objects the controller is told never to make Ready,
// and signals when the first one is created.
type held struct{ created chan string }

func (h *held) hold(name string) bool {
	select {
	case h.created <- name:
	default:
	}
	return true
}

// A create cancelled while the claim is not Ready deletes the claim
// before it returns (the env's cleanup checks none is left).
func TestCancelledCreateDeletesItsClaim(t *testing.T) {
	for _, pool := range []string{"pool", ""} {
		t.Run("pool="+pool, func(t *testing.T) {
			h := &held{created: make(chan string, 1)}
			e := newEnv(t, h.hold)
			p := newProvider(t, e.options(pool))
			ctx, cancel := context.WithCancel(t.Context())
			go func() {
				<-h.created
				cancel()
			}()
			_, err := p.Create(ctx, computemw.CreateOptions{})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Create: %v, want context.Canceled", err)
			}
			e.checkEmpty(t)
		})
	}
}

// A create whose sandbox is not Ready in ReadyTimeout fails UNAVAILABLE
// and deletes its claim.
func TestReadyTimeout(t *testing.T) {
	e := newEnv(t, func(string) bool { return true })
	o := e.options("pool")
	o.ReadyTimeout = 200 * time.Millisecond
	p := newProvider(t, o)
	_, err := p.Create(t.Context(), computemw.CreateOptions{})
	var ke *computemw.Error
	if !errors.As(err, &ke) || ke.Code != computemw.CodeUnavailable {
		t.Fatalf("Create: %v, want UNAVAILABLE", err)
	}
	e.checkEmpty(t)
}

// What a claim carries: the warm pool, env, labels, the phase label
// (ready once handed over), the metadata annotation and a shutdown time.
func TestClaimSpec(t *testing.T) {
	e := newEnv(t, nil)
	o := e.options("pool")
	o.Labels = map[string]string{"team": "a"}
	o.Lifetime = 10 * time.Minute
	p := newProvider(t, o)
	ctx := ctxT(t, 30*time.Second)
	before := time.Now()
	sb, err := p.Create(ctx, computemw.CreateOptions{Env: map[string]string{"A": "1"}, Metadata: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(context.Background())
	c, err := e.ext.ExtensionsV1beta1().SandboxClaims(namespace).Get(ctx, sb.ID(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Spec.WarmPoolRef.Name != "pool" || len(c.Spec.Env) != 1 || c.Spec.Env[0].Name != "A" ||
		c.Labels["team"] != "a" || c.Labels[kubernetes.LabelManaged] != "true" || c.Labels[kubernetes.LabelPhase] != "ready" ||
		c.Labels[kubernetes.LabelInstance] != "kit-0" || c.Annotations[kubernetes.AnnotationMetadata] != `{"k":"v"}` ||
		c.Spec.AdditionalPodMetadata.Labels["team"] != "a" {
		t.Errorf("claim %+v", c)
	}
	if lc := c.Spec.Lifecycle; lc == nil || lc.ShutdownTime == nil || lc.ShutdownTime.Time.Before(before.Add(9*time.Minute)) || lc.ShutdownPolicy != extv1.ShutdownPolicyDelete {
		t.Errorf("lifecycle %+v", c.Spec.Lifecycle)
	}
	if res, err := sb.Exec(ctx, "echo $A", computemw.ExecOptions{}); err != nil || res.Stdout != "1\n" {
		t.Errorf("env in the pod: %+v %v", res, err)
	}
}

// What a Sandbox made from the pod template carries: env, resources and
// the runtime class.
func TestSandboxSpec(t *testing.T) {
	e := newEnv(t, nil)
	o := e.options("")
	o.RuntimeClassName = "gvisor"
	p := newProvider(t, o)
	ctx := ctxT(t, 30*time.Second)
	sb, err := p.Create(ctx, computemw.CreateOptions{Env: map[string]string{"A": "1"}, Resources: computemw.Resources{MemoryMB: 256, CPUCores: 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(context.Background())
	s, err := e.sbx.AgentsV1beta1().Sandboxes(namespace).Get(ctx, sb.ID(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec := s.Spec.PodTemplate.Spec
	c := spec.Containers[0]
	if spec.RuntimeClassName == nil || *spec.RuntimeClassName != "gvisor" || len(c.Env) != 1 ||
		c.Resources.Limits.Memory().String() != "256Mi" || c.Resources.Limits.Cpu().String() != "500m" {
		t.Errorf("sandbox spec %+v", spec)
	}
	if s.Spec.ShutdownTime == nil {
		t.Errorf("no shutdown time")
	}
}

// Reap deletes the claims a kit left mid-create (still "creating" past
// their deadline), and nothing else.
func TestReapOrphans(t *testing.T) {
	e := newEnv(t, func(string) bool { return true })
	p := newProvider(t, e.options("pool"))
	ctx := ctxT(t, 30*time.Second)
	mk := func(name, phase string, age time.Duration) {
		c := claim(name)
		c.Labels = map[string]string{kubernetes.LabelManaged: "true", kubernetes.LabelPhase: phase}
		c.CreationTimestamp = metav1.NewTime(time.Now().Add(-age))
		if _, err := e.ext.ExtensionsV1beta1().SandboxClaims(namespace).Create(ctx, c, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk("orphan", "creating", time.Hour)
	mk("young", "creating", 0)
	mk("ready", "ready", time.Hour)
	n, err := p.Reap(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Reap: %d %v, want 1", n, err)
	}
	l, _ := e.ext.ExtensionsV1beta1().SandboxClaims(namespace).List(ctx, metav1.ListOptions{})
	var left []string
	for _, c := range l.Items {
		left = append(left, c.Name)
		_ = e.ext.ExtensionsV1beta1().SandboxClaims(namespace).Delete(ctx, c.Name, metav1.DeleteOptions{})
	}
	if len(left) != 2 || left[0] == "orphan" || left[1] == "orphan" {
		t.Errorf("left %v", left)
	}
}
