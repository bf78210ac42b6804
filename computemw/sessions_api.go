package computemw

import "context"

// Sessions are the sandboxes that outlive a request: owned by the caller
// that created them (another caller gets NOT_FOUND), alive until
// destroyed or until their lifetime passes without a use. Get them with
// [Kit.Sessions]; every method takes a context from [Kit.Admit] (or one
// that is admitted on an empty request, as for [Kit.Create]).
type Sessions struct{ k *Kit }

// Sessions returns the kit's session book.
func (k *Kit) Sessions() *Sessions { return &Sessions{k: k} }

// Create makes a session for the caller: authorized as an [OpSessions]
// creation, within Config.MaxSessions and Config.MaxSessionsPerPrincipal
// (waiting up to opts.Wait for a place), as POST /sandboxes does.
func (s *Sessions) Create(ctx context.Context, opts SessionOptions) (SessionInfo, error) {
	return s.k.createSession(ctx, opts)
}

// Destroy destroys one of the caller's sessions: at once when idle, else
// when its current use ends.
func (s *Sessions) Destroy(ctx context.Context, id string) error {
	return s.k.destroySessionByID(ctx, id)
}

// List returns the caller's live sessions, oldest first.
func (s *Sessions) List(ctx context.Context) ([]SessionInfo, error) {
	return s.k.listSessions(ctx)
}

// Get returns one of the caller's sessions. Looking a session up is a
// use: its lifetime restarts (what POST /sandboxes/{id}/keepalive does).
func (s *Sessions) Get(ctx context.Context, id string) (SessionInfo, error) {
	return s.k.sessionInfo(ctx, id)
}

// Sandbox returns the governed sandbox of one of the caller's sessions,
// marked in use until release is called: its executions, terminals,
// processes and file operations are authorized, observed and charged like
// the routes' own, and the session's lifetime restarts when the use ends.
func (s *Sessions) Sandbox(ctx context.Context, id string) (sb Sandbox, release func(), err error) {
	return s.k.sessionSandbox(ctx, id)
}

// Reap destroys the sessions whose lifetime passed that this instance can
// reach (a reaper does it every Config.SessionReapInterval; serverless
// deployments call it themselves). It returns how many expired records it
// found.
func (s *Sessions) Reap(ctx context.Context) (int, error) {
	return s.k.reapSessions(ctx)
}
