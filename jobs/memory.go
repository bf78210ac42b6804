package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"time"
)

// MemoryOptions configure [NewMemoryQueue].
type MemoryOptions struct {
	// Workers is the number of jobs run at once; default 4.
	Workers int
	// Retention is how long a finished job is kept; default
	// [DefaultRetention].
	Retention time.Duration
	// MaxJobs caps the jobs kept (queued, running and finished); a
	// submit over it is refused with ErrQueueFull. Default 100,000.
	MaxJobs int
}

// MemoryQueue keeps jobs in this process: the default queue, for one
// instance. Jobs do not survive the process.
type MemoryQueue struct {
	opts MemoryOptions

	mu      sync.Mutex
	jobs    map[string]*memJob
	waiting []string            // queued job IDs, oldest first
	batches map[string][]string // job IDs by batch, in order
	wake    chan struct{}
	stop    chan struct{}
	wg      sync.WaitGroup
	started bool
}

type memJob struct {
	job    Job
	cancel context.CancelFunc
}

// NewMemoryQueue returns an in-process queue.
func NewMemoryQueue(opts MemoryOptions) *MemoryQueue {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.MaxJobs <= 0 {
		opts.MaxJobs = 100_000
	}
	return &MemoryQueue{opts: opts, jobs: map[string]*memJob{}, batches: map[string][]string{}, wake: make(chan struct{}, 1), stop: make(chan struct{})}
}

// newID returns a random job ID.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// snapshot copies a job for a caller.
func (m *memJob) snapshot() *Job {
	j := m.job
	if j.Outcome != nil {
		o := *j.Outcome
		j.Outcome = &o
	}
	return &j
}

// Enqueue implements [Queue].
func (q *MemoryQueue) Enqueue(_ context.Context, jobs []*Job, limit int) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.expire(time.Now())
	if len(q.jobs)+len(jobs) > q.opts.MaxJobs {
		return fmt.Errorf("the queue holds %d jobs: %w", len(q.jobs), ErrQueueFull)
	}
	if limit > 0 {
		open := map[string]int{}
		for _, j := range jobs {
			open[j.OwnerKey]++
		}
		for _, m := range q.jobs {
			if _, ok := open[m.job.OwnerKey]; ok && !m.job.State.Final() {
				open[m.job.OwnerKey]++
			}
		}
		for _, n := range open {
			if n > limit {
				return fmt.Errorf("at most %d unfinished jobs per caller: %w", limit, ErrQueueFull)
			}
		}
	}
	for _, j := range jobs {
		j.ID, j.State = newID(), StateQueued
		q.jobs[j.ID] = &memJob{job: *j}
		q.waiting = append(q.waiting, j.ID)
		if j.BatchID != "" {
			q.batches[j.BatchID] = append(q.batches[j.BatchID], j.ID)
		}
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

// expire drops finished jobs past their retention.
func (q *MemoryQueue) expire(now time.Time) {
	for id, m := range q.jobs {
		if m.job.FinishedAt != nil && now.Sub(*m.job.FinishedAt) > q.opts.Retention {
			delete(q.jobs, id)
			delete(q.batches, m.job.BatchID)
		}
	}
}

// Get implements [Queue].
func (q *MemoryQueue) Get(_ context.Context, id string) (*Job, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	m, ok := q.jobs[id]
	if !ok || (m.job.FinishedAt != nil && time.Since(*m.job.FinishedAt) > q.opts.Retention) {
		return nil, ErrNotFound
	}
	return m.snapshot(), nil
}

// Batch implements [Queue].
func (q *MemoryQueue) Batch(_ context.Context, id string) ([]*Job, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []*Job
	for _, jid := range q.batches[id] {
		if m, ok := q.jobs[jid]; ok {
			out = append(out, m.snapshot())
		}
	}
	return out, nil
}

// List implements [Queue].
func (q *MemoryQueue) List(_ context.Context, owner string, max int) ([]*Job, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.expire(time.Now())
	var out []*Job
	for _, m := range q.jobs {
		if m.job.OwnerKey == owner {
			out = append(out, m.snapshot())
		}
	}
	slices.SortFunc(out, func(a, b *Job) int { return b.CreatedAt.Compare(a.CreatedAt) })
	if len(out) > max {
		out = out[:max]
	}
	return out, nil
}

// Cancel implements [Queue].
func (q *MemoryQueue) Cancel(_ context.Context, id string) (*Job, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	m, ok := q.jobs[id]
	if !ok {
		return nil, false, ErrNotFound
	}
	switch m.job.State {
	case StateQueued:
		now := time.Now()
		m.job.State, m.job.FinishedAt = StateCancelled, &now
		q.waiting = slices.DeleteFunc(q.waiting, func(w string) bool { return w == id })
		return m.snapshot(), true, nil
	case StateRunning:
		m.cancel()
	}
	return m.snapshot(), false, nil
}

// Depth implements [Queue].
func (q *MemoryQueue) Depth(context.Context) (int64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return int64(len(q.waiting)), nil
}

// Start implements [Queue].
func (q *MemoryQueue) Start(_ context.Context, work WorkFunc) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return fmt.Errorf("jobs: the memory queue is already started")
	}
	q.started = true
	for range q.opts.Workers {
		q.wg.Add(1)
		go q.worker(work)
	}
	return nil
}

// next takes the oldest queued job, marking it running, or returns nil.
func (q *MemoryQueue) next() (*memJob, *Job, context.Context) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiting) == 0 {
		return nil, nil, nil
	}
	id := q.waiting[0]
	q.waiting = q.waiting[1:]
	m := q.jobs[id]
	if m == nil || m.job.State != StateQueued {
		return nil, nil, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	now := time.Now()
	m.job.State, m.job.StartedAt, m.cancel = StateRunning, &now, cancel
	m.job.Attempts++
	if len(q.waiting) > 0 {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	return m, m.snapshot(), ctx
}

func (q *MemoryQueue) worker(work WorkFunc) {
	defer q.wg.Done()
	for {
		m, j, ctx := q.next()
		if m == nil {
			select {
			case <-q.stop:
				return
			case <-q.wake:
				continue
			}
		}
		go func() {
			select {
			case <-q.stop:
				m.cancel()
			case <-ctx.Done():
			}
		}()
		q.finish(m, ctx, work(ctx, j))
	}
}

// finish records a run's outcome.
func (q *MemoryQueue) finish(m *memJob, ctx context.Context, out *Outcome) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	m.job.State, m.job.FinishedAt, m.job.Outcome = StateCompleted, &now, out
	if ctx.Err() != nil {
		m.job.State = StateCancelled
	}
	m.cancel()
}

// Stop implements [Queue]: running jobs are cancelled.
func (q *MemoryQueue) Stop(ctx context.Context) error {
	q.mu.Lock()
	select {
	case <-q.stop:
	default:
		close(q.stop)
	}
	q.mu.Unlock()
	done := make(chan struct{})
	go func() { q.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
