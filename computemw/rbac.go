package computemw

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Permissions are what a role may do: the seed's UserPermissions.
type Permissions struct {
	// CanExecuteCode allows /execute and /exec.
	CanExecuteCode bool
	// CanAccessFiles allows /files.
	CanAccessFiles bool
	// CanCreateSandbox allows every operation that creates a sandbox:
	// the stateless routes (which create one per request), sessions, and
	// the sandbox middleware.
	CanCreateSandbox bool
	// AllowedProviders lists the providers the role may use; "*" allows
	// every registered provider. Empty allows none.
	AllowedProviders []string
	// ResourceLimits caps what the role's requests may ask for.
	ResourceLimits ResourceLimits
}

// ResourceLimits cap a role's sandboxes and executions; a zero field is
// not capped by the role (the kit's and provider's own limits still hold).
type ResourceLimits struct {
	MaxCPUCores      float64
	MaxMemoryMB      int
	MaxExecutionTime time.Duration
}

// LimitMode says what [RBAC] does with a request that asks for more than
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

// DefaultRoles returns the default role table: "admin" and "developer"
// may do everything with generous limits, "user" may do everything with
// modest ones, and "viewer" may create nothing.
func DefaultRoles() map[string]Permissions {
	all := []string{"*"}
	return map[string]Permissions{
		"admin": {CanExecuteCode: true, CanAccessFiles: true, CanCreateSandbox: true, AllowedProviders: all,
			ResourceLimits: ResourceLimits{MaxCPUCores: 4, MaxMemoryMB: 8192, MaxExecutionTime: 5 * time.Minute}},
		"developer": {CanExecuteCode: true, CanAccessFiles: true, CanCreateSandbox: true, AllowedProviders: all,
			ResourceLimits: ResourceLimits{MaxCPUCores: 2, MaxMemoryMB: 2048, MaxExecutionTime: 2 * time.Minute}},
		"user": {CanExecuteCode: true, CanAccessFiles: true, CanCreateSandbox: true, AllowedProviders: all,
			ResourceLimits: ResourceLimits{MaxCPUCores: 1, MaxMemoryMB: 512, MaxExecutionTime: 30 * time.Second}},
		"viewer": {AllowedProviders: all},
	}
}

// RBACConfig configures [NewRBAC].
type RBACConfig struct {
	// Roles maps role names to permissions; nil means [DefaultRoles].
	Roles map[string]Permissions
	// DefaultRole is the role of a principal that has none. Empty means
	// such a principal may do nothing.
	DefaultRole string
	// Mode decides between clamping and refusing requests above a role's
	// limits; default LimitClamp.
	Mode LimitMode
}

// RBAC is the [Policy] of role-based access control. Its Authorize checks
// the principal's role ([Principal].Role, set by an [Authenticator]) for
// the permission the operation needs, the provider, and the resources
// asked for: more than the role allows is clamped or refused (see
// [LimitMode]). A principal with an unknown role is refused (403), and a
// request without principal is 401.
type RBAC struct {
	roles       map[string]Permissions
	defaultRole string
	mode        LimitMode
}

// NewRBAC builds an RBAC policy from cfg.
func NewRBAC(cfg RBACConfig) (*RBAC, error) {
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
	return &RBAC{roles: maps.Clone(roles), defaultRole: cfg.DefaultRole, mode: cfg.Mode}, nil
}

// Permissions returns the permissions of role ("" is the default role).
func (r *RBAC) Permissions(role string) (Permissions, bool) {
	if role == "" {
		role = r.defaultRole
	}
	p, ok := r.roles[role]
	return p, ok
}

// Admit implements [Policy]; roles are checked in Authorize.
func (r *RBAC) Admit(ctx context.Context, _ Op, _ *Request) (context.Context, error) {
	return ctx, nil
}

// Authorize implements [Policy]: it refuses what the caller's role does
// not allow and fits the action into the role's limits.
func (r *RBAC) Authorize(ctx context.Context, a *Action) error {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		return &Error{Code: CodeUnauthorized, Message: "authentication required"}
	}
	perm, ok := r.Permissions(p.Role)
	if !ok {
		return &Error{Code: CodeForbidden, Message: "insufficient permissions"}
	}
	switch a.Op {
	case OpExecute, OpExec:
		if !perm.CanExecuteCode {
			return forbidden("insufficient permissions: code execution is not allowed")
		}
	case OpFiles:
		if !perm.CanAccessFiles {
			return forbidden("insufficient permissions: file access is not allowed")
		}
	}
	creates := createsSandbox(ctx, a)
	if creates && !perm.CanCreateSandbox {
		return forbidden("insufficient permissions: creating sandboxes is not allowed")
	}
	if a.Provider != "" && !slices.Contains(perm.AllowedProviders, "*") && !slices.Contains(perm.AllowedProviders, a.Provider) {
		return forbidden(fmt.Sprintf("provider %q is not allowed", a.Provider))
	}
	return r.fit(a, perm.ResourceLimits, creates)
}

// createsSandbox reports whether the action will create a sandbox: the
// middleware and session creation always do, the routes do unless they
// target a session or run in the request's sandbox from the middleware,
// and actions on no provider (listing sessions) never do.
func createsSandbox(ctx context.Context, a *Action) bool {
	switch {
	case a.Provider == "":
		return false
	case a.Op == OpMiddleware || a.Op == OpSessions:
		return true
	}
	sb := SandboxFrom(ctx)
	return a.SandboxID == "" && (sb == nil || sb.Provider() != a.Provider)
}

func forbidden(msg string) error { return &Error{Code: CodeForbidden, Message: msg} }

// fit sets what the action leaves open to the role's limits and lowers,
// or refuses, what exceeds them.
func (r *RBAC) fit(a *Action, l ResourceLimits, creates bool) error {
	var err error
	a.Timeout, err = fitLimit(r.mode, "timeout", a.Timeout, l.MaxExecutionTime)
	if err != nil || !creates {
		return err
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
	return asked, &Error{
		Code:    CodeForbidden,
		Message: fmt.Sprintf("%s %v exceeds the %v your role allows", name, asked, limit),
		Details: map[string]any{"limit": name, "allowed": fmt.Sprint(limit)},
	}
}
