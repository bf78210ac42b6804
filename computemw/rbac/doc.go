// Package rbac is the role-based access control policy of computemw. Each
// principal has a role; each role has [Permissions]: may it run code,
// touch files, create sandboxes, read metrics, on which providers, within
// which resource limits. A request that asks for more than its role allows
// is clamped to the role's limits, or refused, never exceeded. Its
// [Policy] is a [computemw.Policy] that decides in Authorize, on every
// action, before any sandbox is created for it.
//
// # Wiring
//
// List it after the authenticator (computemw/auth), which sets the
// principal and its role:
//
//	roles, err := rbac.New(rbac.Config{DefaultRole: "user"}) // the default roles
//	if err != nil {
//		return err
//	}
//	kit, err := computemw.New(computemw.Config{
//		Providers: providers,
//		Policies:  []computemw.Policy{authn, roles},
//	})
//
// With roles of your own:
//
//	roles, err := rbac.New(rbac.Config{
//		Roles: map[string]rbac.Permissions{
//			"student": {CanExecuteCode: true, CanCreateSandbox: true, AllowedProviders: []string{"local"},
//				ResourceLimits: rbac.ResourceLimits{MaxMemoryMB: 256, MaxExecutionTime: 10 * time.Second},
//				Template: "python-data"},
//			"grader": {CanExecuteCode: true, CanAccessFiles: true, CanCreateSandbox: true, AllowedProviders: []string{"*"}},
//		},
//		DefaultRole: "student",
//		Mode:        rbac.LimitRefuse,
//	})
//
// # What each operation needs
//
//	operation                                  permission
//	execute, exec, terminal                    CanExecuteCode
//	files                                      CanAccessFiles
//	GET /metrics                               CanReadMetrics (and nothing else)
//	anything that creates a sandbox            CanCreateSandbox (the stateless routes create one per request)
//	any provider named or chosen               in AllowedProviders ("*" for all)
//	anything else (health, usage, languages)   a known role
//
// The kit, not the policy, says whether an action creates a sandbox
// ([computemw.Action].CreatesSandbox). For an action that creates one,
// the role's Template is used when the request names none.
//
// # Answers on failure
//
//	status  code          message                                              when
//	401     UNAUTHORIZED  authentication required                              no principal in the context (no authenticator
//	                                                                           before it, and no computemw.WithPrincipal)
//	403     FORBIDDEN     insufficient permissions                             the role is unknown, or the principal has none
//	                                                                           and Config.DefaultRole is empty
//	403     FORBIDDEN     insufficient permissions: code execution is not      the permission the operation needs is missing
//	                      allowed (file access, reading metrics, creating
//	                      sandboxes)
//	403     FORBIDDEN     provider "x" is not allowed                          the provider is not in AllowedProviders
//	403     FORBIDDEN     timeout 2m0s exceeds the 30s your role allows        LimitRefuse only: a request above a limit;
//	                                                                           details {limit, allowed}
//
// # Configuration
//
// [Config]:
//   - Roles: role name to [Permissions]; nil means [DefaultRoles]: admin
//     (everything, metrics included; 4 cores, 8192 MB, 5 minutes),
//     developer (2 cores, 2048 MB, 2 minutes), user (1 core, 512 MB,
//     30 seconds), viewer (no code, files or sandboxes), monitor (metrics
//     only).
//   - DefaultRole: the role of a principal that has none; empty means such
//     a principal may do nothing.
//   - Mode: [LimitClamp] (default) lowers a request's timeout, memory and
//     CPU to the role's [ResourceLimits]; [LimitRefuse] answers 403. A
//     zero limit does not cap (the kit's and the provider's own limits
//     still hold). With LimitRefuse, keep each role's MaxExecutionTime at
//     or above computemw.Config.DefaultTimeout, which requests without a
//     timeout of their own get.
package rbac
