package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	sandboxv1 "sigs.k8s.io/agent-sandbox/api/v1beta1"
	extv1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/computemw/kit/computemw"
)

// AnnotationMetadata holds CreateOptions.Metadata, as a JSON object.
const AnnotationMetadata = "computemw.io/metadata"

// Create implements computemw.Provider: it creates a SandboxClaim on the
// warm pool (or a Sandbox from the pod template), watches it until it is
// Ready, and opens it. A create that fails, times out or is cancelled
// deletes what it made.
func (p *Provider) Create(ctx context.Context, opts computemw.CreateOptions) (computemw.Sandbox, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider closed"}
	}
	name := "computemw-" + randomID()
	meta, err := p.objectMeta(name, opts)
	if err != nil {
		return nil, err
	}
	var rv string
	if p.claims() {
		rv, err = p.createClaim(ctx, meta, opts)
	} else {
		rv, err = p.createSandbox(ctx, meta, opts)
	}
	if err != nil {
		// A create whose answer was lost (cancelled, timed out, the
		// connection dropped) may still have been stored: the name is
		// ours alone, so deleting it is safe whatever happened.
		p.deleteFailed(ctx, name)
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			p.deleteFailed(ctx, name)
		}
	}()
	wctx, cancel := context.WithTimeout(ctx, p.opts.ReadyTimeout)
	defer cancel()
	st, err := p.waitReady(wctx, name, rv)
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, &computemw.Error{Code: computemw.CodeUnavailable,
				Message: fmt.Sprintf("sandbox not ready within %s", p.opts.ReadyTimeout), Err: err}
		}
		return nil, err
	}
	if err := p.setPhase(ctx, name, phaseReady); err != nil {
		return nil, err
	}
	sb, err := p.open(name, st)
	if err != nil {
		return nil, err
	}
	if !p.track(sb) {
		sb.closeConns()
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider closed"}
	}
	ok = true
	return sb, nil
}

// objectMeta is the metadata of a new object.
func (p *Provider) objectMeta(name string, opts computemw.CreateOptions) (metav1.ObjectMeta, error) {
	lbl := map[string]string{}
	maps.Copy(lbl, p.opts.Labels)
	lbl[LabelManaged] = "true"
	lbl[LabelPhase] = phaseCreating
	if p.opts.Instance != "" && len(p.opts.Instance) <= 63 {
		lbl[LabelInstance] = p.opts.Instance
	}
	m := metav1.ObjectMeta{Name: name, Namespace: p.opts.Namespace, Labels: lbl}
	if len(opts.Metadata) > 0 {
		b, err := json.Marshal(opts.Metadata)
		if err != nil {
			return m, computemw.Errorf(computemw.CodeBadRequest, "metadata: %v", err)
		}
		m.Annotations = map[string]string{AnnotationMetadata: string(b)}
	}
	return m, nil
}

// shutdownTime is the lifecycle deadline of a new object, or nil.
func (p *Provider) shutdownTime() *metav1.Time {
	if p.opts.Lifetime < 0 {
		return nil
	}
	t := metav1.NewTime(time.Now().Add(p.opts.Lifetime).Truncate(time.Second))
	return &t
}

func (p *Provider) createClaim(ctx context.Context, meta metav1.ObjectMeta, opts computemw.CreateOptions) (string, error) {
	c := &extv1.SandboxClaim{ObjectMeta: meta, Spec: extv1.SandboxClaimSpec{
		WarmPoolRef:           extv1.SandboxWarmPoolRef{Name: p.opts.WarmPool},
		AdditionalPodMetadata: sandboxv1.PodMetadata{Labels: maps.Clone(p.opts.Labels)},
	}}
	if t := p.shutdownTime(); t != nil {
		c.Spec.Lifecycle = &extv1.Lifecycle{ShutdownTime: t, ShutdownPolicy: extv1.ShutdownPolicyDelete}
	}
	for _, k := range sortedKeys(opts.Env) {
		c.Spec.Env = append(c.Spec.Env, extv1.EnvVar{Name: k, Value: opts.Env[k], ContainerName: p.opts.Container})
	}
	made, err := p.ext.ExtensionsV1beta1().SandboxClaims(p.opts.Namespace).Create(ctx, c, metav1.CreateOptions{})
	if err != nil {
		return "", apiError("create sandbox claim", err)
	}
	return made.ResourceVersion, nil
}

func (p *Provider) createSandbox(ctx context.Context, meta metav1.ObjectMeta, opts computemw.CreateOptions) (string, error) {
	tpl := p.opts.PodTemplate.DeepCopy()
	spec := tpl.Spec
	if p.opts.RuntimeClassName != "" {
		rc := p.opts.RuntimeClassName
		spec.RuntimeClassName = &rc
	}
	ci := 0
	for i, c := range spec.Containers {
		if c.Name == p.opts.Container {
			ci = i
		}
	}
	ctr := &spec.Containers[ci]
	for _, k := range sortedKeys(opts.Env) {
		ctr.Env = append(ctr.Env, corev1.EnvVar{Name: k, Value: opts.Env[k]})
	}
	if err := setResources(ctr, opts.Resources); err != nil {
		return "", err
	}
	podLabels := maps.Clone(tpl.Labels)
	if podLabels == nil {
		podLabels = map[string]string{}
	}
	maps.Copy(podLabels, p.opts.Labels)
	s := &sandboxv1.Sandbox{ObjectMeta: meta, Spec: sandboxv1.SandboxSpec{
		SandboxBlueprint: sandboxv1.SandboxBlueprint{PodTemplate: sandboxv1.PodTemplate{
			Spec: spec, ObjectMeta: sandboxv1.PodMetadata{Labels: podLabels, Annotations: tpl.Annotations},
		}},
	}}
	if t := p.shutdownTime(); t != nil {
		del := sandboxv1.ShutdownPolicyDelete
		s.Spec.Lifecycle = sandboxv1.Lifecycle{ShutdownTime: t, ShutdownPolicy: &del}
	}
	made, err := p.sbx.AgentsV1beta1().Sandboxes(p.opts.Namespace).Create(ctx, s, metav1.CreateOptions{})
	if err != nil {
		return "", apiError("create sandbox", err)
	}
	return made.ResourceVersion, nil
}

// setResources sets a container's requests and limits from the create's
// resources (zero fields keep the template's).
func setResources(c *corev1.Container, r computemw.Resources) error {
	set := func(name corev1.ResourceName, q resource.Quantity) {
		if c.Resources.Limits == nil {
			c.Resources.Limits = corev1.ResourceList{}
		}
		if c.Resources.Requests == nil {
			c.Resources.Requests = corev1.ResourceList{}
		}
		c.Resources.Limits[name] = q
		c.Resources.Requests[name] = q
	}
	if r.MemoryMB < 0 || r.CPUCores < 0 {
		return computemw.Errorf(computemw.CodeBadRequest, "negative resources")
	}
	if r.MemoryMB > 0 {
		set(corev1.ResourceMemory, *resource.NewQuantity(int64(r.MemoryMB)<<20, resource.BinarySI))
	}
	if r.CPUCores > 0 {
		set(corev1.ResourceCPU, *resource.NewMilliQuantity(int64(r.CPUCores*1000), resource.DecimalSI))
	}
	return nil
}

// setPhase relabels an object (merge patch of one label).
func (p *Provider) setPhase(ctx context.Context, name, phase string) error {
	patch := []byte(`{"metadata":{"labels":{` + strconv.Quote(LabelPhase) + `:` + strconv.Quote(phase) + `}}}`)
	var err error
	if p.claims() {
		_, err = p.ext.ExtensionsV1beta1().SandboxClaims(p.opts.Namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	} else {
		_, err = p.sbx.AgentsV1beta1().Sandboxes(p.opts.Namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	}
	return apiError("label "+name, err)
}

// deleteFailed deletes the object of a failed or cancelled create before
// Create returns, outside the request's cancellation but bounded by a
// minute; should that fail too, Reap finds the object later.
func (p *Provider) deleteFailed(ctx context.Context, name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	_ = p.delete(ctx, name)
}
