package riverqueue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/jobs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// Config configures [New].
type Config struct {
	// Pool is the PostgreSQL pool; required.
	Pool *pgxpool.Pool
	// Schema is the schema of River's tables and of the instances'
	// heartbeats; "" is the connection's search path.
	Schema string
	// Queue is the River queue the jobs go to; default "computemw_jobs".
	Queue string
	// Workers is the number of jobs this instance runs at once; default 4.
	Workers int
	// InstanceID names this instance among those sharing the queue;
	// default a random one. It must be unique.
	InstanceID string
	// Retention is how long finished jobs are kept; default
	// jobs.DefaultRetention.
	Retention time.Duration
	// MaxAttempts is how many runs a job gets when its instance dies
	// while running it: after that many it is marked failed. Default 3.
	MaxAttempts int
	// JobTimeout bounds one run on a worker, whatever the job asked;
	// default 10 minutes. It must exceed the kit's MaxTimeout.
	JobTimeout time.Duration
	// Heartbeat is how often this instance records that it is alive, and
	// looks for jobs of instances that are not; default 5 s.
	Heartbeat time.Duration
	// LivenessTimeout is how long an instance may go without a heartbeat
	// before its running jobs are taken back; default 30 s, at least
	// 4 × Heartbeat.
	LivenessTimeout time.Duration
	// FetchPollInterval is how often idle workers look for jobs besides
	// being notified of new ones; default River's (1 s).
	FetchPollInterval time.Duration
	// FetchCooldown is the least time between two fetches of this
	// instance's workers; default River's (100 ms). Lower it for many
	// short jobs.
	FetchCooldown time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Migrate creates or updates River's tables (and the heartbeat table)
// in schema ("" is the search path). Run it once before New, from one
// instance or a deploy step.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: schema})
	if err != nil {
		return fmt.Errorf("riverqueue: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("riverqueue: migrating River: %w", err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+table(schema, instancesTable)+` (
		id text PRIMARY KEY,
		seen_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("riverqueue: creating the heartbeat table: %w", err)
	}
	return nil
}

const (
	instancesTable = "computemw_job_instances"
	kind           = "computemw_job"
)

// table qualifies a table name with schema.
func table(schema, name string) string {
	if schema == "" {
		return name
	}
	return pgx.Identifier{schema, name}.Sanitize()
}

// args are a job's arguments in River.
type args struct {
	Spec      jobs.Spec           `json:"spec"`
	Owner     computemw.Principal `json:"owner"`
	OwnerKey  string              `json:"ownerKey"`
	Batch     string              `json:"batch,omitempty"`
	CreatedAt time.Time           `json:"createdAt"`
}

// Kind implements river.JobArgs.
func (args) Kind() string { return kind }

// Queue is the River queue. It implements jobs.Queue.
type Queue struct {
	cfg    Config
	client *river.Client[pgx.Tx]
	work   jobs.WorkFunc
	log    *slog.Logger

	mu      sync.Mutex
	running map[int64]context.CancelCauseFunc
	started bool
	stop    chan struct{}
	done    chan struct{}
}

// New returns a queue on cfg.Pool; the tables must exist ([Migrate]).
func New(cfg Config) (*Queue, error) {
	if cfg.Pool == nil {
		return nil, errors.New("riverqueue: Config.Pool is required")
	}
	if cfg.Queue == "" {
		cfg.Queue = "computemw_jobs"
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.InstanceID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		cfg.InstanceID = "computemw-" + hex.EncodeToString(b[:])
	}
	if cfg.Retention <= 0 {
		cfg.Retention = jobs.DefaultRetention
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 10 * time.Minute
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 5 * time.Second
	}
	if cfg.LivenessTimeout <= 0 {
		cfg.LivenessTimeout = 30 * time.Second
	}
	if cfg.LivenessTimeout < 4*cfg.Heartbeat {
		return nil, errors.New("riverqueue: LivenessTimeout must be at least 4 × Heartbeat")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	q := &Queue{cfg: cfg, log: cfg.Logger, running: map[int64]context.CancelCauseFunc{},
		stop: make(chan struct{}), done: make(chan struct{})}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, river.WorkFunc(q.runJob)); err != nil {
		return nil, fmt.Errorf("riverqueue: %w", err)
	}
	client, err := river.NewClient(riverpgxv5.New(cfg.Pool), &river.Config{
		ID:                          cfg.InstanceID,
		Schema:                      cfg.Schema,
		Queues:                      map[string]river.QueueConfig{cfg.Queue: {MaxWorkers: cfg.Workers}},
		Workers:                     workers,
		MaxAttempts:                 cfg.MaxAttempts,
		JobTimeout:                  cfg.JobTimeout,
		RescueStuckJobsAfter:        cfg.JobTimeout + cfg.LivenessTimeout,
		CompletedJobRetentionPeriod: cfg.Retention,
		CancelledJobRetentionPeriod: cfg.Retention,
		DiscardedJobRetentionPeriod: cfg.Retention,
		FetchPollInterval:           cfg.FetchPollInterval,
		FetchCooldown:               cfg.FetchCooldown,
		Logger:                      cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("riverqueue: %w", err)
	}
	q.client = client
	return q, nil
}

// InstanceID returns the name of this instance among those sharing the
// queue.
func (q *Queue) InstanceID() string { return q.cfg.InstanceID }

// Client returns the River client, for inspection.
func (q *Queue) Client() *river.Client[pgx.Tx] { return q.client }

// metadata is what a job's River metadata holds of ours.
type metadata struct {
	Owner string `json:"computemw_owner"`
	Batch string `json:"computemw_batch,omitempty"`
}

// unfinished are the River states of a job that is not final.
var unfinished = []string{"available", "pending", "scheduled", "retryable", "running"}

// Enqueue implements jobs.Queue. The per-owner cap is counted and the
// jobs inserted in one transaction under an advisory lock on the owner,
// so that instances submitting at once cannot pass it together.
func (q *Queue) Enqueue(ctx context.Context, list []*jobs.Job, limit int) error {
	if len(list) == 0 {
		return nil
	}
	tx, err := q.cfg.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("riverqueue: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	owner := list[0].OwnerKey
	meta, _ := json.Marshal(metadata{Owner: owner})
	if limit > 0 {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('computemw_jobs:' || $1, 0))`, owner); err != nil {
			return fmt.Errorf("riverqueue: %w", err)
		}
		var n int
		err := tx.QueryRow(ctx, `SELECT count(*) FROM `+table(q.cfg.Schema, "river_job")+
			` WHERE queue = $1 AND kind = $2 AND state::text = ANY($3) AND metadata @> $4::jsonb`,
			q.cfg.Queue, kind, unfinished, string(meta)).Scan(&n)
		if err != nil {
			return fmt.Errorf("riverqueue: counting unfinished jobs: %w", err)
		}
		if n+len(list) > limit {
			return fmt.Errorf("at most %d unfinished jobs per caller (%d now): %w", limit, n, jobs.ErrQueueFull)
		}
	}
	params := make([]river.InsertManyParams, 0, len(list))
	for _, j := range list {
		if j.OwnerKey != owner {
			return errors.New("riverqueue: one owner per submit")
		}
		m, _ := json.Marshal(metadata{Owner: owner, Batch: j.BatchID})
		params = append(params, river.InsertManyParams{
			Args:       args{Spec: j.Spec, Owner: j.Owner, OwnerKey: j.OwnerKey, Batch: j.BatchID, CreatedAt: j.CreatedAt},
			InsertOpts: &river.InsertOpts{Queue: q.cfg.Queue, Metadata: m, MaxAttempts: q.cfg.MaxAttempts},
		})
	}
	res, err := q.client.InsertManyTx(ctx, tx, params)
	if err != nil {
		return fmt.Errorf("riverqueue: inserting jobs: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("riverqueue: %w", err)
	}
	for i, r := range res {
		list[i].ID = strconv.FormatInt(r.Job.ID, 10)
		list[i].State = jobs.StateQueued
	}
	return nil
}

// parseID reads a job ID.
func parseID(id string) (int64, bool) {
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil && n > 0
}

// Get implements jobs.Queue.
func (q *Queue) Get(ctx context.Context, id string) (*jobs.Job, error) {
	n, ok := parseID(id)
	if !ok {
		return nil, jobs.ErrNotFound
	}
	row, err := q.client.JobGet(ctx, n)
	if errors.Is(err, river.ErrNotFound) {
		return nil, jobs.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("riverqueue: %w", err)
	}
	if row.Kind != kind || row.Queue != q.cfg.Queue {
		return nil, jobs.ErrNotFound
	}
	return toJob(row)
}

// toJob reads a River row as a job.
func toJob(row *rivertype.JobRow) (*jobs.Job, error) {
	var a args
	if err := json.Unmarshal(row.EncodedArgs, &a); err != nil {
		return nil, fmt.Errorf("riverqueue: job %d: %w", row.ID, err)
	}
	j := &jobs.Job{ID: strconv.FormatInt(row.ID, 10), BatchID: a.Batch, Owner: a.Owner, OwnerKey: a.OwnerKey, Spec: a.Spec,
		Attempts: row.Attempt, CreatedAt: a.CreatedAt, StartedAt: row.AttemptedAt, FinishedAt: row.FinalizedAt}
	if out := row.Output(); len(out) > 0 {
		var o jobs.Outcome
		if err := json.Unmarshal(out, &o); err == nil {
			j.Outcome = &o
		}
	}
	switch row.State {
	case rivertype.JobStateRunning:
		j.State = jobs.StateRunning
	case rivertype.JobStateCompleted:
		j.State = jobs.StateCompleted
	case rivertype.JobStateCancelled:
		j.State = jobs.StateCancelled
	case rivertype.JobStateDiscarded:
		j.State = jobs.StateFailed
		if j.Outcome == nil || j.Outcome.Verdict == "" {
			j.Outcome = &jobs.Outcome{Verdict: jobs.VerdictInternalError, Error: &jobs.ErrorInfo{Code: computemw.CodeInternal,
				Message: fmt.Sprintf("the job could not be run to the end in %d attempts (the instances running it stopped)", row.Attempt)}}
		}
	default:
		j.State = jobs.StateQueued
		if row.Attempt == 0 {
			j.StartedAt = nil
		}
	}
	if !j.State.Final() {
		j.Outcome, j.FinishedAt = nil, nil
	}
	return j, nil
}

// list returns the jobs matching meta, ordered by ID.
func (q *Queue) list(ctx context.Context, meta map[string]string, max int, order river.SortOrder) ([]*jobs.Job, error) {
	m, _ := json.Marshal(meta)
	params := river.NewJobListParams().Kinds(kind).Queues(q.cfg.Queue).Metadata(string(m)).
		OrderBy(river.JobListOrderByID, order).First(max).
		States(rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateScheduled, rivertype.JobStateRetryable,
			rivertype.JobStateRunning, rivertype.JobStateCompleted, rivertype.JobStateCancelled, rivertype.JobStateDiscarded)
	res, err := q.client.JobList(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("riverqueue: %w", err)
	}
	out := make([]*jobs.Job, 0, len(res.Jobs))
	for _, row := range res.Jobs {
		j, err := toJob(row)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// List implements jobs.Queue.
func (q *Queue) List(ctx context.Context, owner string, max int) ([]*jobs.Job, error) {
	return q.list(ctx, map[string]string{"computemw_owner": owner}, max, river.SortOrderDesc)
}

// Batch implements jobs.Queue.
func (q *Queue) Batch(ctx context.Context, id string) ([]*jobs.Job, error) {
	if id == "" {
		return nil, nil
	}
	list, err := q.list(ctx, map[string]string{"computemw_batch": id}, 10_000, river.SortOrderAsc)
	if err != nil {
		return nil, err
	}
	return list, nil
}

// Cancel implements jobs.Queue: a job that never started is cancelled in
// one conditional update (so that only one caller gives its reservation
// back); a running one is cancelled through River, which stops its run
// wherever it is.
func (q *Queue) Cancel(ctx context.Context, id string) (*jobs.Job, bool, error) {
	n, ok := parseID(id)
	if !ok {
		return nil, false, jobs.ErrNotFound
	}
	tag, err := q.cfg.Pool.Exec(ctx, `UPDATE `+table(q.cfg.Schema, "river_job")+
		` SET state = 'cancelled', finalized_at = now()
		  WHERE id = $1 AND kind = $2 AND queue = $3 AND attempt = 0 AND state IN ('available', 'pending', 'scheduled')`,
		n, kind, q.cfg.Queue)
	if err != nil {
		return nil, false, fmt.Errorf("riverqueue: %w", err)
	}
	never := tag.RowsAffected() == 1
	if !never {
		if _, err := q.client.JobCancel(ctx, n); err != nil && !errors.Is(err, river.ErrNotFound) {
			return nil, false, fmt.Errorf("riverqueue: %w", err)
		}
	}
	j, err := q.Get(ctx, id)
	return j, never, err
}

// Depth implements jobs.Queue: the jobs available to workers now.
func (q *Queue) Depth(ctx context.Context) (int64, error) {
	var n int64
	err := q.cfg.Pool.QueryRow(ctx, `SELECT count(*) FROM `+table(q.cfg.Schema, "river_job")+
		` WHERE queue = $1 AND state IN ('available', 'retryable')`, q.cfg.Queue).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("riverqueue: %w", err)
	}
	return n, nil
}
