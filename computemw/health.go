package computemw

import (
	"context"
	"sync"
	"time"
)

// HealthReport is the body of GET /health.
type HealthReport struct {
	Status    string            `json:"status"` // "healthy" or "degraded"
	Timestamp time.Time         `json:"timestamp"`
	Services  map[string]string `json:"services"` // provider → "healthy" / "unhealthy"
}

// health caches provider probes so that a flood of /health requests runs
// at most one probe per provider per interval.
type health struct {
	kit    *Kit
	probes map[string]*probe
}

type probe struct {
	mu      sync.Mutex // held while probing: callers wait for the one probe
	checked time.Time
	err     error
}

func (h *health) init(k *Kit) {
	h.kit = k
	h.probes = make(map[string]*probe)
	for _, name := range k.providers.Names() {
		h.probes[name] = &probe{}
	}
}

func (h *health) check(ctx context.Context, name string) error {
	p := h.probes[name]
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.checked.IsZero() && time.Since(p.checked) < h.kit.cfg.HealthInterval {
		return p.err
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.kit.cfg.HealthTimeout)
	defer cancel()
	p.err = h.kit.probe(pctx, name)
	p.checked = time.Now()
	h.kit.ph.probeResult(name, p.err)
	return p.err
}

// invalidate forgets name's cached probe: the provider just went down, so
// the next check probes it afresh.
func (h *health) invalidate(name string) {
	p := h.probes[name]
	p.mu.Lock()
	p.checked = time.Time{}
	p.mu.Unlock()
}

// probe runs the provider's own health check, or creates a sandbox, runs
// echo in it and destroys it. The probe is the kit's own operation, not a
// caller's: no policy authorizes it and it is not an execution in the
// metrics, but its sandbox holds a slot of Config.MaxSandboxes like any.
func (k *Kit) probe(ctx context.Context, name string) error {
	prov, err := k.provider(name)
	if err != nil {
		return err
	}
	if hc, ok := prov.(HealthChecker); ok {
		return hc.CheckHealth(ctx)
	}
	g, err := k.create(ctx, &Action{Op: OpHealth, Provider: name, Timeout: k.cfg.HealthTimeout, CreatesSandbox: true})
	if err != nil {
		return err
	}
	defer k.releaser(ctx, g)()
	res, err := g.raw.Exec(ctx, "echo ok", ExecOptions{Timeout: k.cfg.HealthTimeout})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 || res.Stdout != "ok\n" {
		return Errorf(CodeInternal, "probe: echo printed %q, exit %d", res.Stdout, res.ExitCode)
	}
	return nil
}

// Health probes every provider (through the cache) and reports.
func (k *Kit) Health(ctx context.Context) HealthReport {
	names := k.providers.Names()
	rep := HealthReport{Status: "healthy", Timestamp: time.Now().UTC(), Services: make(map[string]string, len(names))}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, name := range names {
		wg.Go(func() {
			err := k.health.check(ctx, name)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				rep.Services[name] = "unhealthy"
				rep.Status = "degraded"
				k.log.WarnContext(ctx, "computemw: provider unhealthy", "provider", name, "error", err)
				return
			}
			rep.Services[name] = "healthy"
		})
	}
	wg.Wait()
	return rep
}

// Ready reports whether the kit accepts new sandboxes: false once Close has
// begun, so a load balancer stops sending traffic during shutdown.
func (k *Kit) Ready() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return !k.closed
}
