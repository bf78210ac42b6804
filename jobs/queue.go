package jobs

import (
	"context"
	"errors"
	"time"
)

// Queue keeps jobs and hands them to workers. [NewMemoryQueue] is the
// default; jobs/riverqueue keeps them in PostgreSQL for several
// instances. An implementation must hand a job to one worker at a time
// (never to two at once), must not lose a job whose worker died (it runs
// it again or marks it failed), and must keep finished jobs for the
// retention it was configured with.
type Queue interface {
	// Enqueue stores jobs as queued, all or none. When limit > 0 and an
	// owner would then have more than limit jobs queued or running, it
	// stores none and returns an error wrapping [ErrQueueFull]. It sets
	// each job's ID (and keeps the BatchID, CreatedAt and Owner given).
	Enqueue(ctx context.Context, jobs []*Job, limit int) error
	// Get returns the job, or an error wrapping [ErrNotFound].
	Get(ctx context.Context, id string) (*Job, error)
	// Batch returns the jobs of a batch, in the order they were
	// submitted (none when the batch is unknown).
	Batch(ctx context.Context, id string) ([]*Job, error)
	// List returns up to max of the jobs of an owner (a Job.OwnerKey),
	// newest first.
	List(ctx context.Context, owner string, max int) ([]*Job, error)
	// Cancel cancels a job that is not final: a queued job is final at
	// once, never having run; a running job's run is stopped. It returns
	// the job as it is after (an error wrapping [ErrNotFound] if none),
	// and whether this call cancelled a job that never ran (so that what
	// was reserved for it is given back once).
	Cancel(ctx context.Context, id string) (*Job, bool, error)
	// Depth returns the number of jobs waiting for a worker.
	Depth(ctx context.Context) (int64, error)
	// Start hands jobs to work until Stop. work runs one job and returns
	// its outcome; it is called on up to the queue's number of workers
	// at once, with a context that ends when the job is cancelled.
	Start(ctx context.Context, work WorkFunc) error
	// Stop stops handing out jobs and waits (until ctx ends) for the
	// running ones.
	Stop(ctx context.Context) error
}

// WorkFunc runs one job (whose Attempts counts this run) and returns its
// outcome.
type WorkFunc func(ctx context.Context, j *Job) *Outcome

// Queue errors.
var (
	// ErrNotFound is a job that does not exist (or no longer: see the
	// queue's retention).
	ErrNotFound = errors.New("jobs: no such job")
	// ErrQueueFull is a submit over the per-caller cap of unfinished jobs.
	ErrQueueFull = errors.New("jobs: too many unfinished jobs")
)

// DefaultRetention is how long a finished job is kept by default.
const DefaultRetention = 24 * time.Hour
