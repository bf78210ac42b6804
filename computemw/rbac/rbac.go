package rbac

import (
	"context"
	"fmt"
	"github.com/computemw/kit/computemw"
	"maps"
	"slices"
	"time"
)

// Permissions are what a role may do: the UserPermissions of ComputeSDK's
// API guide (see docs/architecture.md).
type Permissions struct {
	// CanExecuteCode allows /execute and /exec.
	CanExecuteCode bool
	// CanAccessFiles allows /files.
	CanAccessFiles bool
	// CanCreateSandbox allows every operation that creates a sandbox:
	// the stateless routes (which create one per request), sessions, and
	// the sandbox middleware.
	CanCreateSandbox bool
	// CanReadMetrics allows GET /metrics: what every caller's executions
	// did is not for every caller.
	CanReadMetrics bool
	// AllowedProviders lists the providers the role may use; "*" allows
	// every registered provider. Empty allows none.
	AllowedProviders []string
	// ResourceLimits caps what the role's requests may ask for.
	ResourceLimits ResourceLimits
	// Template is the template the role's sandboxes are created from when
	// the request names none (a root filesystem of the local provider's
	// Config.Templates, an E2B template, a Daytona snapshot); empty leaves
	// the provider's default.
	Template string
}

// ResourceLimits cap a role's sandboxes and executions; a zero field is
// not capped by the role (the kit's and provider's own limits still hold).
type ResourceLimits struct {
	MaxCPUCores      float64
	MaxMemoryMB      int
	MaxExecutionTime time.Duration
}

// LimitMode says what [Policy] does with a request that asks for more than
// its role allows.
type LimitMode int

const (
	// LimitClamp lowers what the request asks for to the role's limits.
	LimitClamp LimitMode = iota
	// LimitRefuse answers 403 FORBIDDEN. Executions without a timeout of
	// their own get Config.DefaultTimeout, so with LimitRefuse keep each
	// role's MaxExecutionTime at or above it.
	LimitRefuse
)

// DefaultRoles returns the default role table: "admin" may do everything
// with generous limits, metrics included; "developer" and "user" may run
// code, use files and create sandboxes with smaller limits; "viewer" may
// create nothing; "monitor" may only read metrics (a scraper's role).
func DefaultRoles() map[string]Permissions {
	all := []string{"*"}
	return map[string]Permissions{
		"admin": {CanExecuteCode: true, CanAccessFiles: true, CanCreateSandbox: true, CanReadMetrics: true, AllowedProviders: all,
			ResourceLimits: ResourceLimits{MaxCPUCores: 4, MaxMemoryMB: 8192, MaxExecutionTime: 5 * time.Minute}},
		"developer": {CanExecuteCode: true, CanAccessFiles: true, CanCreateSandbox: true, AllowedProviders: all,
			ResourceLimits: ResourceLimits{MaxCPUCores: 2, MaxMemoryMB: 2048, MaxExecutionTime: 2 * time.Minute}},
		"user": {CanExecuteCode: true, CanAccessFiles: true, CanCreateSandbox: true, AllowedProviders: all,
			ResourceLimits: ResourceLimits{MaxCPUCores: 1, MaxMemoryMB: 512, MaxExecutionTime: 30 * time.Second}},
		"viewer":  {AllowedProviders: all},
		"monitor": {CanReadMetrics: true},
	}
}

// Config configures [New].
type Config struct {
	// Roles maps role names to permissions; nil means [DefaultRoles].
	Roles map[string]Permissions
	// DefaultRole is the role of a principal that has none. Empty means
	// such a principal may do nothing.
	DefaultRole string
	// Mode decides between clamping and refusing requests above a role's
	// limits; default LimitClamp.
	Mode LimitMode
}

// Policy is the [computemw.Policy] of role-based access control. Its Authorize checks
// the principal's role ([computemw.Principal].Role, set by an [Authenticator]) for
// the permission the operation needs, the provider, and the resources
// asked for: more than the role allows is clamped or refused (see
// [LimitMode]). A principal with an unknown role is refused (403), and a
// request without principal is 401.
type Policy struct {
	roles       map[string]Permissions
	defaultRole string
	mode        LimitMode
}

// New builds an Policy policy from cfg.
func New(cfg Config) (*Policy, error) {
	roles := cfg.Roles
	if roles == nil {
		roles = DefaultRoles()
	}
	if cfg.DefaultRole != "" {
		if _, ok := roles[cfg.DefaultRole]; !ok {
			return nil, fmt.Errorf("computemw: rbac: default role %q is not in Roles", cfg.DefaultRole)
		}
	}
	if cfg.Mode != LimitClamp && cfg.Mode != LimitRefuse {
		return nil, fmt.Errorf("computemw: rbac: unknown mode %d", cfg.Mode)
	}
	return &Policy{roles: maps.Clone(roles), defaultRole: cfg.DefaultRole, mode: cfg.Mode}, nil
}

// Permissions returns the permissions of role ("" is the default role).
func (r *Policy) Permissions(role string) (Permissions, bool) {
	if role == "" {
		role = r.defaultRole
	}
	p, ok := r.roles[role]
	return p, ok
}

// Admit implements [computemw.Policy]; roles are checked in Authorize.
func (r *Policy) Admit(ctx context.Context, _ computemw.Op, _ *computemw.Request) (context.Context, error) {
	return ctx, nil
}

// Authorize implements [computemw.Policy]: it refuses what the caller's role does
// not allow and fits the action into the role's limits.
func (r *Policy) Authorize(ctx context.Context, a *computemw.Action) error {
	p, ok := computemw.PrincipalFrom(ctx)
	if !ok {
		return &computemw.Error{Code: computemw.CodeUnauthorized, Message: "authentication required"}
	}
	perm, ok := r.Permissions(p.Role)
	if !ok {
		return &computemw.Error{Code: computemw.CodeForbidden, Message: "insufficient permissions"}
	}
	switch a.Op {
	case computemw.OpExecute, computemw.OpExec, computemw.OpTerminal:
		if !perm.CanExecuteCode {
			return forbidden("insufficient permissions: code execution is not allowed")
		}
	case computemw.OpFiles:
		if !perm.CanAccessFiles {
			return forbidden("insufficient permissions: file access is not allowed")
		}
	case computemw.OpMetrics:
		if !perm.CanReadMetrics {
			return forbidden("insufficient permissions: reading metrics is not allowed")
		}
		return nil
	}
	creates := a.CreatesSandbox
	if creates && !perm.CanCreateSandbox {
		return forbidden("insufficient permissions: creating sandboxes is not allowed")
	}
	if creates && a.Create.Template == "" && perm.Template != "" {
		a.Create.Template = perm.Template
	}
	if a.Provider != "" && !slices.Contains(perm.AllowedProviders, "*") && !slices.Contains(perm.AllowedProviders, a.Provider) {
		return forbidden(fmt.Sprintf("provider %q is not allowed", a.Provider))
	}
	return r.fit(a, perm.ResourceLimits, creates)
}

func forbidden(msg string) error {
	return &computemw.Error{Code: computemw.CodeForbidden, Message: msg}
}

// fit sets what the action leaves open to the role's limits and lowers,
// or refuses, what exceeds them.
func (r *Policy) fit(a *computemw.Action, l ResourceLimits, creates bool) error {
	var err error
	a.Timeout, err = fitLimit(r.mode, "timeout", a.Timeout, l.MaxExecutionTime)
	if err != nil {
		return err
	}
	if a.CompileTimeout > 0 {
		// A compile limit of its own is held to the same maximum.
		if a.CompileTimeout, err = fitLimit(r.mode, "compileTimeout", a.CompileTimeout, l.MaxExecutionTime); err != nil {
			return err
		}
	}
	if !creates {
		return nil
	}
	res := &a.Create.Resources
	if res.MaxExecutionTime, err = fitLimit(r.mode, "maxExecutionTime", res.MaxExecutionTime, l.MaxExecutionTime); err != nil {
		return err
	}
	if res.MemoryMB, err = fitLimit(r.mode, "memoryMB", res.MemoryMB, l.MaxMemoryMB); err != nil {
		return err
	}
	res.CPUCores, err = fitLimit(r.mode, "cpuCores", res.CPUCores, l.MaxCPUCores)
	return err
}

// fitLimit returns asked within limit (a zero limit is no limit): the
// limit when nothing was asked, the limit instead of more (LimitClamp),
// or a 403 for more (LimitRefuse).
func fitLimit[T int | float64 | time.Duration](mode LimitMode, name string, asked, limit T) (T, error) {
	switch {
	case limit <= 0:
		return asked, nil
	case asked <= 0:
		return limit, nil
	case asked <= limit:
		return asked, nil
	case mode == LimitClamp:
		return limit, nil
	}
	return asked, &computemw.Error{
		Code:    computemw.CodeForbidden,
		Message: fmt.Sprintf("%s %v exceeds the %v your role allows", name, asked, limit),
		Details: map[string]any{"limit": name, "allowed": fmt.Sprint(limit)},
	}
}
