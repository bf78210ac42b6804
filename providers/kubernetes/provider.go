package kubernetes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	sandboxclient "sigs.k8s.io/agent-sandbox/clients/k8s/clientset/versioned"
	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"

	"github.com/computemw/kit/computemw"
)

// Name is the provider's registry name.
const Name = "kubernetes"

// Labels the provider puts on every object it makes.
const (
	// LabelManaged marks the objects of computemw ("true").
	LabelManaged = "computemw.io/managed"
	// LabelInstance names the kit instance that made the object.
	LabelInstance = "computemw.io/instance"
	// LabelPhase is "creating" until the sandbox is Ready and handed
	// over, then "ready": an object still "creating" past its ready
	// deadline was left by a kit that died mid-create (see Reap).
	LabelPhase = "computemw.io/phase"
)

const (
	phaseCreating = "creating"
	phaseReady    = "ready"
)

// Provider makes sandboxes on a Kubernetes cluster running agent-sandbox.
// It is safe for concurrent use.
type Provider struct {
	opts Options
	cfg  *rest.Config // for pods/exec
	sbx  sandboxclient.Interface
	ext  extclient.Interface

	mu     sync.Mutex
	live   map[string]*Sandbox
	closed bool
}

var (
	_ computemw.Provider       = (*Provider)(nil)
	_ computemw.LanguageLister = (*Provider)(nil)
	_ computemw.HealthChecker  = (*Provider)(nil)
	_ computemw.Closer         = (*Provider)(nil)
)

// New makes a Provider. It fails on invalid options or an unreadable
// cluster configuration; it does not call the API server (see
// [Provider.CheckHealth]).
func New(opts Options) (*Provider, error) {
	if opts.WarmPool == "" && opts.PodTemplate == nil {
		return nil, errors.New("kubernetes: set Options.WarmPool or Options.PodTemplate")
	}
	if opts.WarmPool == "" && len(opts.PodTemplate.Spec.Containers) == 0 {
		return nil, errors.New("kubernetes: Options.PodTemplate has no container")
	}
	opts = opts.withDefaults()
	p := &Provider{opts: opts, live: map[string]*Sandbox{}}
	if c := opts.Clients; c != nil {
		if c.Sandboxes == nil || c.Extensions == nil {
			return nil, errors.New("kubernetes: Options.Clients needs both clients")
		}
		p.sbx, p.ext, p.cfg = c.Sandboxes, c.Extensions, opts.RESTConfig
		if opts.PodExec && p.cfg == nil {
			return nil, errors.New("kubernetes: Options.PodExec needs Options.RESTConfig")
		}
		return p, nil
	}
	cfg, err := opts.restConfig()
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	p.cfg = cfg
	if p.sbx, err = sandboxclient.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	if p.ext, err = extclient.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	return p, nil
}

// Name implements computemw.Provider.
func (p *Provider) Name() string { return Name }

// Namespace is the namespace the provider's objects live in.
func (p *Provider) Namespace() string { return p.opts.Namespace }

// Languages implements computemw.LanguageLister: the interpreters RunCode
// starts (the image must have them).
func (p *Provider) Languages() []string {
	out := make([]string, 0, len(interpreters))
	for l := range interpreters {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// Runtimes implements computemw.LanguageLister: the languages by name.
func (p *Provider) Runtimes(context.Context) ([]computemw.Runtime, error) { return nil, nil }

// TemplateNames implements computemw.LanguageLister: none besides the
// languages.
func (p *Provider) TemplateNames() []string { return nil }

// CheckHealth implements computemw.HealthChecker with one cheap call the
// provider's Role allows: listing at most one of its objects.
func (p *Provider) CheckHealth(ctx context.Context) error {
	_, err := p.list(ctx, metav1.ListOptions{LabelSelector: LabelManaged + "=true", Limit: 1})
	return err
}

// Close destroys the sandboxes of this provider that are still alive.
func (p *Provider) Close(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	live := make([]*Sandbox, 0, len(p.live))
	for _, sb := range p.live {
		live = append(live, sb)
	}
	p.mu.Unlock()
	var errs []error
	for _, sb := range live {
		errs = append(errs, sb.Destroy(ctx))
	}
	p.opts.HTTPClient.CloseIdleConnections()
	return errors.Join(errs...)
}

// Reap deletes the objects a kit left while it created them: those of
// this provider's namespace still labelled "creating" whose ready deadline
// (creation time plus ReadyTimeout, plus a minute of grace) has passed.
// Any kit instance may call it; it returns how many it deleted.
func (p *Provider) Reap(ctx context.Context) (int, error) {
	sel := labels.Set{LabelManaged: "true", LabelPhase: phaseCreating}.String()
	objs, err := p.list(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return 0, err
	}
	deadline := time.Now().Add(-p.opts.ReadyTimeout - time.Minute)
	n := 0
	var errs []error
	for _, o := range objs {
		if !o.created.Before(deadline) {
			continue
		}
		if err := p.delete(ctx, o.name); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// object is what the provider needs of a claim or a Sandbox.
type object struct {
	name    string
	created time.Time
	labels  map[string]string
}

// list lists the provider's kind of object (claims with a warm pool,
// Sandboxes without).
func (p *Provider) list(ctx context.Context, lo metav1.ListOptions) ([]object, error) {
	var out []object
	if p.claims() {
		l, err := p.ext.ExtensionsV1beta1().SandboxClaims(p.opts.Namespace).List(ctx, lo)
		if err != nil {
			return nil, apiError("list sandbox claims", err)
		}
		for _, c := range l.Items {
			out = append(out, object{c.Name, c.CreationTimestamp.Time, c.Labels})
		}
		return out, nil
	}
	l, err := p.sbx.AgentsV1beta1().Sandboxes(p.opts.Namespace).List(ctx, lo)
	if err != nil {
		return nil, apiError("list sandboxes", err)
	}
	for _, s := range l.Items {
		out = append(out, object{s.Name, s.CreationTimestamp.Time, s.Labels})
	}
	return out, nil
}

// delete deletes a claim or Sandbox by name, in the background
// (its pod goes with it); one already gone is not an error.
func (p *Provider) delete(ctx context.Context, name string) error {
	bg := metav1.DeletePropagationBackground
	do := metav1.DeleteOptions{PropagationPolicy: &bg}
	var err error
	if p.claims() {
		err = p.ext.ExtensionsV1beta1().SandboxClaims(p.opts.Namespace).Delete(ctx, name, do)
	} else {
		err = p.sbx.AgentsV1beta1().Sandboxes(p.opts.Namespace).Delete(ctx, name, do)
	}
	if err = apiError("delete "+name, err); err != nil && !errors.Is(err, computemw.ErrNotFound) {
		return err
	}
	return nil
}

// claims reports whether sandboxes are claims on a warm pool.
func (p *Provider) claims() bool { return p.opts.WarmPool != "" }

func (p *Provider) track(sb *Sandbox) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.live[sb.id] = sb
	return true
}

func (p *Provider) untrack(id string) {
	p.mu.Lock()
	delete(p.live, id)
	p.mu.Unlock()
}

// randomID is a random lower-case hex string for object names.
func randomID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
