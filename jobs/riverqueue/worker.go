package riverqueue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/computemw/kit/jobs"
	"github.com/riverqueue/river"
)

// errFenced stops the runs of an instance that could not record its
// heartbeat: another instance may soon take its jobs back.
var errFenced = errors.New("riverqueue: this instance lost contact with the database; its runs are stopped")

// Start implements jobs.Queue: it records this instance's heartbeat,
// starts River's workers and the watch over other instances.
func (q *Queue) Start(ctx context.Context, work jobs.WorkFunc) error {
	q.mu.Lock()
	if q.started {
		q.mu.Unlock()
		return errors.New("riverqueue: already started")
	}
	q.started, q.work = true, work
	q.mu.Unlock()
	if err := q.beat(ctx); err != nil {
		return err
	}
	if err := q.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("riverqueue: %w", err)
	}
	go q.watch()
	return nil
}

// runJob is River's work function of a job.
func (q *Queue) runJob(ctx context.Context, rj *river.Job[args]) error {
	j, err := toJob(rj.JobRow)
	if err != nil {
		return river.JobCancel(err)
	}
	j.State = jobs.StateRunning
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	q.mu.Lock()
	q.running[rj.ID] = cancel
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		delete(q.running, rj.ID)
		q.mu.Unlock()
	}()
	out := q.work(ctx, j)
	if err := river.RecordOutput(ctx, out); err != nil {
		return fmt.Errorf("riverqueue: recording the outcome: %w", err)
	}
	if cause := context.Cause(ctx); cause != nil {
		if errors.Is(cause, river.ErrJobCancelledRemotely) {
			return river.JobCancel(cause)
		}
		// Stopped on this instance (shutdown, fencing): the run goes back
		// to the queue as an attempt that failed.
		return cause
	}
	return nil
}

// beat records this instance's heartbeat.
func (q *Queue) beat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, q.cfg.LivenessTimeout/4)
	defer cancel()
	_, err := q.cfg.Pool.Exec(ctx, `INSERT INTO `+table(q.cfg.Schema, instancesTable)+` (id, seen_at) VALUES ($1, now())
		ON CONFLICT (id) DO UPDATE SET seen_at = now()`, q.cfg.InstanceID)
	if err != nil {
		return fmt.Errorf("riverqueue: heartbeat: %w", err)
	}
	return nil
}

// watch records the heartbeat, stops this instance's runs when it cannot
// for half the liveness timeout, and takes back the jobs of instances
// that stopped beating.
func (q *Queue) watch() {
	defer close(q.done)
	t := time.NewTicker(q.cfg.Heartbeat)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-q.stop:
			return
		case <-t.C:
		}
		sent := time.Now()
		if err := q.beat(context.Background()); err != nil {
			q.log.Warn("computemw: jobs: heartbeat failed", "instance", q.cfg.InstanceID, "error", err)
			if time.Since(last) > q.cfg.LivenessTimeout/2 {
				q.fence()
			}
			continue
		}
		last = sent
		if err := q.rescue(context.Background()); err != nil {
			q.log.Warn("computemw: jobs: taking back the jobs of stopped instances failed", "error", err)
		}
	}
}

// fence stops every run of this instance.
func (q *Queue) fence() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, cancel := range q.running {
		cancel(errFenced)
	}
}

// rescue puts back in the queue the jobs running on instances whose
// heartbeat is older than the liveness timeout (or marks them failed
// after MaxAttempts), in one statement that any instance may run.
func (q *Queue) rescue(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, q.cfg.LivenessTimeout/2)
	defer cancel()
	jobsT, inst, st := table(q.cfg.Schema, "river_job"), table(q.cfg.Schema, instancesTable), table(q.cfg.Schema, "river_job_state")
	tag, err := q.cfg.Pool.Exec(ctx, `UPDATE `+jobsT+` j SET
		state = CASE WHEN j.attempt >= j.max_attempts THEN 'discarded'::`+st+` ELSE 'available'::`+st+` END,
		finalized_at = CASE WHEN j.attempt >= j.max_attempts THEN now() ELSE NULL END,
		scheduled_at = now(),
		errors = array_append(j.errors, jsonb_build_object('at', now(), 'attempt', j.attempt,
			'error', 'the instance running the job stopped: ' || coalesce(j.attempted_by[array_length(j.attempted_by, 1)], ''), 'trace', ''))
		WHERE j.queue = $1 AND j.kind = $2 AND j.state = 'running'
		  AND NOT EXISTS (SELECT 1 FROM `+inst+` i
			WHERE i.id = j.attempted_by[array_length(j.attempted_by, 1)] AND i.seen_at > now() - $3::interval)`,
		q.cfg.Queue, kind, fmt.Sprintf("%d milliseconds", q.cfg.LivenessTimeout.Milliseconds()))
	if err != nil {
		return err
	}
	if n := tag.RowsAffected(); n > 0 {
		q.log.Warn("computemw: jobs: took back the jobs of stopped instances", "jobs", n)
	}
	return nil
}

// Stop implements jobs.Queue: River stops fetching and waits for the
// running jobs until ctx ends, then cancels them (a cancelled run goes
// back to the queue for another instance).
func (q *Queue) Stop(ctx context.Context) error {
	q.mu.Lock()
	started := q.started
	select {
	case <-q.stop:
		started = false
	default:
		close(q.stop)
	}
	q.mu.Unlock()
	if !started {
		return nil
	}
	<-q.done
	err := q.client.Stop(ctx)
	if err != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = errors.Join(err, q.client.StopAndCancel(sctx))
	}
	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = q.cfg.Pool.Exec(dctx, `DELETE FROM `+table(q.cfg.Schema, instancesTable)+` WHERE id = $1`, q.cfg.InstanceID)
	return err
}
