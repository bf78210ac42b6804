package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/computemw/kit/computemw"
)

// Config configures [New].
type Config struct {
	// Queue keeps the jobs; nil is a [NewMemoryQueue] with its defaults.
	Queue Queue
	// MaxQueuedPerCaller caps one caller's unfinished (queued or running)
	// jobs; a submit over it is 429 RATE_LIMITED and reserves nothing.
	// Default 100; negative is no cap.
	MaxQueuedPerCaller int
	// MaxBatch caps the jobs of one batch; default 100.
	MaxBatch int
	// MaxSpecBytes caps one job's code, standard input, expected output
	// and files together; default 1 MiB.
	MaxSpecBytes int
	// MaxListed caps GET /jobs; default 100.
	MaxListed int
	// Webhooks configures the callbacks.
	Webhooks WebhookConfig
	// Observer receives metrics; nil is the kit's Config.Metrics when it
	// implements [Observer].
	Observer Observer
	// Logger; nil is the kit's.
	Logger *slog.Logger
}

// Service accepts jobs for a kit and runs them. Build it with [New]; it
// is safe for concurrent use.
type Service struct {
	kit   *computemw.Kit
	cfg   Config
	queue Queue
	res   []Reserver
	obs   Observer
	hooks *webhooks
	log   *slog.Logger

	wg     sync.WaitGroup // webhooks in flight
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
}

// New starts the job service of kit: its queue's workers run jobs on
// this instance, and the route group of every adapter mounted for kit
// answers the job routes. One service per kit; Close it before the kit.
func New(ctx context.Context, kit *computemw.Kit, cfg Config) (*Service, error) {
	if cfg.Queue == nil {
		cfg.Queue = NewMemoryQueue(MemoryOptions{})
	}
	if cfg.MaxQueuedPerCaller == 0 {
		cfg.MaxQueuedPerCaller = 100
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 100
	}
	if cfg.MaxSpecBytes <= 0 {
		cfg.MaxSpecBytes = 1 << 20
	}
	if cfg.MaxListed <= 0 {
		cfg.MaxListed = 100
	}
	if cfg.Logger == nil {
		cfg.Logger = kit.Config().Logger
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	obs := cfg.Observer
	if obs == nil {
		obs, _ = kit.Config().Metrics.(Observer)
	}
	if obs == nil {
		obs = nopObserver{}
	}
	s := &Service{kit: kit, cfg: cfg, queue: cfg.Queue, res: reservers(kit), obs: obs, log: cfg.Logger}
	s.hooks = newWebhooks(cfg.Webhooks, obs, cfg.Logger)
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if _, loaded := services.LoadOrStore(kit, s); loaded {
		return nil, errors.New("jobs: a service is already started for this kit")
	}
	obs.ObserveJobQueue(s.queue.Depth)
	if err := s.queue.Start(ctx, s.work); err != nil {
		services.Delete(kit)
		return nil, fmt.Errorf("jobs: starting the queue: %w", err)
	}
	return s, nil
}

// Close stops running jobs on this instance (a durable queue hands them
// to another), waits for callbacks being delivered until ctx ends, and
// takes the job routes of the kit down. It is idempotent.
func (s *Service) Close(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		services.CompareAndDelete(s.kit, s)
		err = s.queue.Stop(ctx)
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.cancel()
			<-done
		}
		s.cancel()
		s.hooks.close()
	})
	return err
}

// Queue returns the service's queue.
func (s *Service) Queue() Queue { return s.queue }

// caller returns the principal ctx acts for (empty for an anonymous
// caller) and its owner key (see Job.OwnerKey).
func (s *Service) caller(ctx context.Context) (computemw.Principal, string) {
	p, _ := computemw.PrincipalFrom(ctx)
	if p.ID != "" {
		return p, "p:" + p.ID
	}
	if ip := computemw.ClientIP(ctx, nil, nil); ip.IsValid() {
		return p, "ip:" + ip.String()
	}
	return p, "anonymous"
}

// Submit accepts one job for the caller of ctx (a context from
// [computemw.Kit.Admit], or one carrying a Principal): it validates the
// spec, authorizes and reserves an execution, and queues the job. The job
// is returned queued, with its ID.
func (s *Service) Submit(ctx context.Context, spec Spec) (*Job, error) {
	jobs, err := s.submit(ctx, []Spec{spec}, "")
	if err != nil {
		return nil, err
	}
	return jobs[0], nil
}

// SubmitBatch accepts up to Config.MaxBatch jobs together, all or none.
func (s *Service) SubmitBatch(ctx context.Context, specs []Spec) (*Batch, error) {
	if len(specs) == 0 {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "a batch needs at least one job")
	}
	if len(specs) > s.cfg.MaxBatch {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "a batch holds at most %d jobs", s.cfg.MaxBatch)
	}
	id := newID()
	jobs, err := s.submit(ctx, specs, id)
	if err != nil {
		return nil, err
	}
	return &Batch{ID: id, Jobs: jobs}, nil
}

func (s *Service) submit(ctx context.Context, specs []Spec, batch string) ([]*Job, error) {
	checked := map[string]error{} // callback URLs, resolved once per submit
	for i := range specs {
		if err := s.validate(ctx, &specs[i], checked); err != nil {
			if len(specs) > 1 {
				e := computemw.AsError(err)
				return nil, &computemw.Error{Code: e.Code, Message: fmt.Sprintf("jobs[%d]: %s", i, e.Message)}
			}
			return nil, err
		}
	}
	p, key := s.caller(ctx)
	now := time.Now()
	jobs := make([]*Job, len(specs))
	for i := range specs {
		jobs[i] = &Job{BatchID: batch, Owner: p, OwnerKey: key, Spec: specs[i], State: StateQueued, CreatedAt: now}
	}
	// Authorize an execution for each job: roles, and the quota's
	// reservation, held by the job until it runs.
	for i := range jobs {
		if err := s.kit.Authorize(ctx, computemw.OpExecute); err != nil {
			s.release(ctx, jobs[:i])
			return nil, err
		}
	}
	limit := max(s.cfg.MaxQueuedPerCaller, 0)
	if err := s.queue.Enqueue(ctx, jobs, limit); err != nil {
		s.release(ctx, jobs)
		if errors.Is(err, ErrQueueFull) {
			s.obs.JobsRefused(len(jobs))
			return nil, &computemw.Error{Code: computemw.CodeRateLimited, Message: strings.TrimPrefix(err.Error(), "jobs: "),
				RetryAfter: time.Second, Err: err}
		}
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "job queue unavailable", RetryAfter: time.Second, Err: err}
	}
	return jobs, nil
}

// release gives back what was reserved for jobs that will never run.
func (s *Service) release(ctx context.Context, jobs []*Job) {
	for _, j := range jobs {
		for _, r := range s.res {
			r.ReleaseReservation(context.WithoutCancel(ctx), j.Owner, j.CreatedAt)
		}
	}
}

// validate refuses a spec the kit would refuse, before anything is
// reserved: 400 BAD_REQUEST with the reason.
func (s *Service) validate(ctx context.Context, spec *Spec, checked map[string]error) error {
	bad := func(format string, args ...any) error {
		return computemw.Errorf(computemw.CodeBadRequest, format, args...)
	}
	switch {
	case spec.Command != "" && (spec.Language != "" || spec.Code != ""):
		return bad("give a command, or a language and code, not both")
	case spec.Command == "" && strings.TrimSpace(spec.Language) == "":
		return bad("field %q is required", "language")
	case spec.Command == "" && strings.TrimSpace(spec.Code) == "":
		return bad("field %q is required", "code")
	case len(spec.Command) > computemw.MaxCommandBytes:
		return bad("command exceeds %d bytes", computemw.MaxCommandBytes)
	}
	cfg := s.kit.Config()
	if spec.Timeout < 0 || spec.Timeout > cfg.MaxTimeout {
		return bad("timeout must be positive and at most %d ms", cfg.MaxTimeout.Milliseconds())
	}
	if spec.MemoryMB < 0 {
		return bad("memoryLimit must be positive")
	}
	if err := computemw.ValidateEnv(spec.Env); err != nil {
		return err
	}
	if !spec.Compare.valid() {
		return bad("compare must be one of trim, exact, tokens")
	}
	size := len(spec.Code) + len(spec.Stdin) + len(spec.Command)
	if spec.ExpectedOutput != nil {
		size += len(*spec.ExpectedOutput)
	}
	for _, f := range spec.Files {
		size += len(f.Path) + len(f.Data)
	}
	if size > s.cfg.MaxSpecBytes {
		return bad("the job's code, input, expected output and files exceed %d bytes", s.cfg.MaxSpecBytes)
	}
	if spec.CallbackURL != "" {
		if len(s.cfg.Webhooks.Secret) == 0 {
			return bad("callbackUrl: webhooks are not configured on this server")
		}
		err, ok := checked[spec.CallbackURL]
		if !ok {
			err = s.cfg.Webhooks.checkURL(ctx, spec.CallbackURL)
			checked[spec.CallbackURL] = err
		}
		if err != nil {
			return &computemw.Error{Code: computemw.CodeBadRequest, Message: err.Error(), Details: map[string]string{"field": "callbackUrl"}}
		}
	}
	return nil
}

// Get returns one of the caller's jobs: 404 NOT_FOUND for an unknown job
// or another caller's.
func (s *Service) Get(ctx context.Context, id string) (*Job, error) {
	j, err := s.queue.Get(ctx, id)
	_, key := s.caller(ctx)
	if errors.Is(err, ErrNotFound) || (err == nil && j.OwnerKey != key) {
		return nil, computemw.Errorf(computemw.CodeNotFound, "job %q not found", truncate(id, 64))
	}
	if err != nil {
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "job queue unavailable", RetryAfter: time.Second, Err: err}
	}
	return j, nil
}

// GetBatch returns one of the caller's batches, its jobs in the order
// submitted: 404 NOT_FOUND for an unknown batch or another caller's.
func (s *Service) GetBatch(ctx context.Context, id string) (*Batch, error) {
	jobs, err := s.queue.Batch(ctx, id)
	if err != nil {
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "job queue unavailable", RetryAfter: time.Second, Err: err}
	}
	_, key := s.caller(ctx)
	if len(jobs) == 0 || jobs[0].OwnerKey != key {
		return nil, computemw.Errorf(computemw.CodeNotFound, "batch %q not found", truncate(id, 64))
	}
	return &Batch{ID: id, Jobs: jobs}, nil
}

// List returns the caller's jobs, newest first, at most Config.MaxListed.
func (s *Service) List(ctx context.Context) ([]*Job, error) {
	_, key := s.caller(ctx)
	jobs, err := s.queue.List(ctx, key, s.cfg.MaxListed)
	if err != nil {
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "job queue unavailable", RetryAfter: time.Second, Err: err}
	}
	return jobs, nil
}

// Cancel cancels one of the caller's jobs: a queued job never runs and
// gives back its reservation; a running job's run is stopped. A final job
// is returned as it is.
func (s *Service) Cancel(ctx context.Context, id string) (*Job, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	j, never, err := s.queue.Cancel(ctx, id)
	if err != nil {
		return nil, &computemw.Error{Code: computemw.CodeUnavailable, Message: "job queue unavailable", RetryAfter: time.Second, Err: err}
	}
	if never {
		s.release(ctx, []*Job{j})
		s.obs.JobFinished(string(StateCancelled))
	}
	return j, nil
}

// work runs one job as a governed execution on its submitter's behalf.
func (s *Service) work(ctx context.Context, j *Job) *Outcome {
	if j.Attempts <= 1 {
		s.obs.JobStarted(time.Since(j.CreatedAt))
	}
	out := s.run(ctx, j)
	verdict := string(out.Verdict)
	state := StateCompleted
	if ctx.Err() != nil {
		verdict, state = string(StateCancelled), StateCancelled
	}
	s.obs.JobFinished(verdict)
	if j.Spec.CallbackURL != "" {
		now := time.Now()
		done := *j
		done.State, done.FinishedAt, done.Outcome = state, &now, out
		s.notify(&done)
	}
	return out
}

// run runs the job's execution through the kit's governed path: admitted
// for the job's owner (with the job's ID as request ID, which the
// execution log carries), authorized with the reservation made at submit.
func (s *Service) run(ctx context.Context, j *Job) *Outcome {
	ctx = computemw.WithPrincipal(ctx, j.Owner)
	for _, r := range s.res {
		ctx = r.Prepaid(ctx, j.CreatedAt)
	}
	h := http.Header{}
	h.Set(computemw.RequestIDHeader, "job-"+j.ID)
	ctx, err := s.kit.Admit(ctx, OpRun, &computemw.Request{Method: http.MethodPost, Header: h})
	if err != nil {
		return Grade(&j.Spec, nil, err)
	}
	run := j.Spec.run()
	run.Stdin = strings.NewReader(j.Spec.Stdin)
	res, err := s.kit.Execute(ctx, run)
	return Grade(&j.Spec, res, err)
}

// notify delivers a finished job's callback in the background.
func (s *Service) notify(j *Job) {
	select {
	case s.hooks.slots <- struct{}{}:
	default:
		s.log.Warn("computemw: jobs: too many callbacks in flight; dropping one", "job", j.ID)
		s.obs.WebhookFinished("failed", 0)
		return
	}
	s.wg.Add(1)
	go func() {
		defer func() { <-s.hooks.slots; s.wg.Done() }()
		s.hooks.deliver(s.ctx, j.Spec.CallbackURL, j)
	}()
}

// truncate cuts s to at most n bytes for a message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
