// Package quota is the usage-quota policy of computemw: how many
// executions, CPU seconds and memory-MB-seconds each principal may use per
// period, from what the sandboxes measure. Its [Quota] is a
// [computemw.Policy] with [computemw.Hooks]: as a policy it reserves an
// execution before any sandbox is created for it; its hooks record what
// the execution used when it ends. It counts every execution from every
// entry: routes, the sandbox middleware, WebSocket messages, terminals,
// GraphQL fields, Socket.IO events, an application's own Kit.Execute.
//
// # Wiring
//
// List it after the authenticator (computemw/auth): quotas are per
// principal. The kit registers its hooks too (listing [Quota.Hooks] in
// Config.Hooks as well is harmless: hooks listed twice are called once).
//
//	usage, err := sqlitestore.Open("/var/lib/myapp/quota.db") // or redisstore.New, pgstore.New; nil: memory
//	if err != nil {
//		return err
//	}
//	quotas, err := quota.New(quota.Config{
//		Store: usage,
//		Plans: map[string]quota.Limits{
//			"free": {Executions: 50, CPUSeconds: 30},
//			"team": {Executions: 5000, CPUSeconds: 3600, MemoryMBSeconds: 1_000_000},
//		},
//		DefaultPlan: "free",
//		Period:      quota.Daily,
//	})
//	kit, err := computemw.New(computemw.Config{
//		Providers: providers,
//		Policies:  []computemw.Policy{authn, roles, limits, quotas},
//	})
//
// # How usage is counted
//
//   - An execution (an execute, an exec or a terminal) is reserved by adding
//     one to the store before its sandbox exists, and rolled back when that
//     goes over the limit. Adds are atomic in every store, so a quota of N
//     admits exactly N, however many instances share the store.
//   - When the execution ends, its CPU seconds and memory-MB-seconds (peak
//     memory × duration) are added, also when a time or resource limit
//     stopped it. The reservation is given back when the execution could
//     not run at all, or when a later policy or the sandbox cap refused it.
//   - Other actions that create a sandbox are refused once any quota is
//     spent; they reserve nothing.
//   - An open terminal is checked every computemw.Config.UsageCheckInterval
//     (5 s) with what it has used so far, and ended once a quota is spent.
//   - GET /usage answers the caller's own [Report]: plan, period, usage and
//     limits (null where unlimited).
//
// # Answers on failure
//
//	status  code            message                      when
//	429     QUOTA_EXCEEDED  Quota exceeded               a limit of the principal's plan is spent; Retry-After: the
//	                                                     period's end; details {period, periodEnd, usage, limits}
//	401     UNAUTHORIZED    authentication required      an execution or a creation with no principal (an anonymous
//	                                                     caller: put an authenticator first)
//	503     UNAVAILABLE     quota service unavailable    the store failed (Retry-After: 1 s), unless FailOpen; also
//	                                                     GET /usage when the store fails
//
// A failure to record usage after an execution is logged, not answered:
// the execution has already happened.
//
// # Configuration
//
// [Config]:
//   - Store: where usage lives; nil means [NewMemoryStore] (this instance,
//     lost at restart). stores/sqlitestore (durable, one host),
//     stores/redisstore and stores/pgstore (shared by instances) implement
//     [Store]; computemw/computemwtest has the suite a store of your own
//     must pass.
//   - Plans: [Limits] by the principal's Plan, a zero field unlimited; nil
//     means [DefaultPlans]: free 100 executions, 60 CPU seconds, 60,000
//     MB-seconds; pro 10,000, 3,600 and 3,600,000; enterprise unlimited.
//   - DefaultPlan: the plan of principals whose plan is not in Plans;
//     default "free".
//   - Period: [Monthly] (default, calendar months in UTC), [Daily], or
//     [Every](d), fixed windows aligned to the Unix epoch.
//   - FailOpen: admit executions (and log a warning) when the store fails,
//     instead of 503. Logger receives store failures.
package quota
