package riverqueue_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/jobs"
	"github.com/computemw/kit/jobs/riverqueue"
	"github.com/jackc/pgx/v5/pgxpool"
)

// childEnv and childBaseEnv carry the schema and the local provider's
// BaseDir to a child instance of the crash test.
const (
	childEnv     = "COMPUTEMW_JOBS_CHILD_SCHEMA"
	childBaseEnv = "COMPUTEMW_JOBS_CHILD_BASE"
)

var owner = computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "tester", Role: "user"})

// submit submits n jobs running command to in, in batches.
func submit(t *testing.T, in *instance, n int, command string) []string {
	t.Helper()
	var ids []string
	for len(ids) < n {
		specs := make([]jobs.Spec, min(100, n-len(ids)))
		for i := range specs {
			specs[i] = jobs.Spec{Command: command}
		}
		b, err := in.svc.SubmitBatch(owner, specs)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range b.Jobs {
			ids = append(ids, j.ID)
		}
	}
	return ids
}

// finalCount counts the jobs in a final River state.
func finalCount(t *testing.T, pool *pgxpool.Pool) (final, total int) {
	t.Helper()
	err := pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE state IN ('completed','cancelled','discarded')), count(*) FROM river_job`).Scan(&final, &total)
	if err != nil {
		t.Fatal(err)
	}
	return final, total
}

// TestTwoInstances: 500 jobs submitted to one of two instances sharing
// PostgreSQL all run, split between both, each exactly once. The
// sandboxes are the fake provider's: what is tested is the queue (the
// crash test and the judge test run real ones).
func TestTwoInstances(t *testing.T) {
	schema := database(t)
	ctx := context.Background()
	var ins []*instance
	for _, id := range []string{"a", "b"} {
		in, err := startInstance(ctx, schema, id, true, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := in.close(); err != nil {
				t.Errorf("instance %s: %v", in.id, err)
			}
		})
		ins = append(ins, in)
	}
	ids := submit(t, ins[0], 500, "true")
	waitFor(t, "all 500 jobs are final", func() bool { f, _ := finalCount(t, ins[0].pool); return f == 500 })

	rows, err := ins[0].pool.Query(ctx, `SELECT state::text, attempt, attempted_by[1] FROM river_job`)
	if err != nil {
		t.Fatal(err)
	}
	ran := map[string]int{}
	for rows.Next() {
		var state, by string
		var attempt int
		if err := rows.Scan(&state, &attempt, &by); err != nil {
			t.Fatal(err)
		}
		if state != "completed" || attempt != 1 {
			t.Errorf("a job %s after %d attempts", state, attempt)
		}
		ran[by]++
	}
	rows.Close()
	if ran["a"] == 0 || ran["b"] == 0 || ran["a"]+ran["b"] != 500 {
		t.Errorf("jobs by instance: %v", ran)
	}
	var runs, distinct int
	if err := ins[0].pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT job) FROM runs`).Scan(&runs, &distinct); err != nil {
		t.Fatal(err)
	}
	if runs != 500 || distinct != 500 {
		t.Errorf("%d runs of %d distinct jobs, want each of 500 exactly once", runs, distinct)
	}
	for _, id := range ids[:5] {
		j, err := ins[1].svc.Get(owner, id)
		if err != nil || j.State != jobs.StateCompleted || j.Outcome == nil || j.Verdict != jobs.VerdictAccepted {
			t.Errorf("job %s read from the other instance: %+v %v", id, j, err)
		}
	}
	t.Logf("jobs run by instance: %v", ran)
}

// TestInstanceProcess is the child instance of TestCrashedInstance: it
// starts an instance on the schema it is given, says so, and runs until
// it is killed.
func TestInstanceProcess(t *testing.T) {
	schema := os.Getenv(childEnv)
	if schema == "" {
		t.Skip("the child instance of TestCrashedInstance")
	}
	if _, err := startInstance(context.Background(), schema, "child", false, os.Getenv(childBaseEnv)); err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	select {}
}

// TestCrashedInstance: an instance killed with SIGKILL in the middle of a
// batch loses no job: every job still ends final, and no job runs twice
// at once (a run of the dead instance's jobs starts after it died).
func TestCrashedInstance(t *testing.T) {
	schema := database(t)
	ctx := context.Background()
	cmd := exec.Command(os.Args[0], "-test.run=^TestInstanceProcess$", "-test.count=1")
	childBase, err := baseDir()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), childEnv+"="+schema, childBaseEnv+"="+childBase)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if err := reclaim(childBase); err != nil {
			t.Error(err)
		}
	})
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("child instance: %q", line)
	}
	survivor, err := startInstance(ctx, schema, "survivor", false, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := survivor.close(); err != nil {
			t.Errorf("survivor: %v", err)
		}
	})
	// Jobs that run for a while, so that the child is in the middle of
	// some when it dies.
	submit(t, survivor, 40, "sleep 0.5")
	waitFor(t, "the child is running jobs", func() bool {
		var n int
		err := survivor.pool.QueryRow(ctx, `SELECT count(*) FROM runs WHERE instance = 'child' AND finished IS NULL`).Scan(&n)
		return err == nil && n > 0
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true
	var killedAt time.Time
	if err := survivor.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&killedAt); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all 40 jobs are final", func() bool { f, _ := finalCount(t, survivor.pool); return f == 40 })

	var cut, overlapping, unfinishedSurvivor int
	err = survivor.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM runs WHERE instance = 'child' AND finished IS NULL),
		(SELECT count(*) FROM runs d JOIN runs s ON s.job = d.job AND s.instance = 'survivor'
			WHERE d.instance = 'child' AND d.finished IS NULL AND s.started <= $1),
		(SELECT count(*) FROM runs WHERE instance = 'survivor' AND finished IS NULL)`, killedAt).
		Scan(&cut, &overlapping, &unfinishedSurvivor)
	if err != nil {
		t.Fatal(err)
	}
	if cut == 0 {
		t.Fatal("the child was killed between runs: nothing to take back")
	}
	if overlapping != 0 {
		t.Errorf("%d jobs cut by the crash were run again before the crash", overlapping)
	}
	var states []string
	rows, err := survivor.pool.Query(ctx, `SELECT state::text || ':' || attempt FROM river_job ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	retried := 0
	for rows.Next() {
		var s string
		rows.Scan(&s)
		states = append(states, s)
		if !strings.HasPrefix(s, "completed:") {
			t.Errorf("a job ended %s", s)
		}
		if s != "completed:1" {
			retried++
		}
	}
	rows.Close()
	// Every run cut by the crash was run again, to the end, by the survivor.
	var rerun int
	if err := survivor.pool.QueryRow(ctx, `SELECT count(DISTINCT d.job) FROM runs d JOIN runs s ON s.job = d.job
		AND s.instance = 'survivor' AND s.finished IS NOT NULL WHERE d.instance = 'child' AND d.finished IS NULL`).Scan(&rerun); err != nil {
		t.Fatal(err)
	}
	if rerun != cut {
		t.Errorf("%d runs cut by the crash, %d run again to the end", cut, rerun)
	}
	t.Logf("%d runs cut by the crash, %d jobs retried", cut, retried)
}

// TestCapAndCancel: the per-owner cap counts across the shared queue,
// and cancelling a job that never ran says so once, so that its
// reservation is given back once.
func TestCapAndCancel(t *testing.T) {
	schema := database(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn()+"&search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	q, err := riverqueue.New(riverqueue.Config{Pool: pool, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(n int, who string) []*jobs.Job {
		out := make([]*jobs.Job, n)
		for i := range out {
			out[i] = &jobs.Job{Owner: computemw.Principal{ID: who}, OwnerKey: who, Spec: jobs.Spec{Command: "true"}, CreatedAt: time.Now()}
		}
		return out
	}
	first := mk(2, "ann")
	if err := q.Enqueue(ctx, first, 2); err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(ctx, mk(1, "ann"), 2); !errors.Is(err, jobs.ErrQueueFull) {
		t.Fatalf("over the cap: %v", err)
	}
	if err := q.Enqueue(ctx, mk(2, "ben"), 2); err != nil {
		t.Fatalf("another owner: %v", err)
	}
	j, never, err := q.Cancel(ctx, first[0].ID)
	if err != nil || !never || j.State != jobs.StateCancelled || j.Attempts != 0 {
		t.Fatalf("cancel: %+v %t %v", j, never, err)
	}
	if _, never, err := q.Cancel(ctx, first[0].ID); err != nil || never {
		t.Fatalf("cancel again: %t %v", never, err)
	}
	if err := q.Enqueue(ctx, mk(1, "ann"), 2); err != nil {
		t.Fatalf("a cancelled job frees its place: %v", err)
	}
	if n, err := q.Depth(ctx); err != nil || n != 4 {
		t.Errorf("depth %d %v, want 4", n, err)
	}
	list, err := q.List(ctx, "ann", 10)
	if err != nil || len(list) != 3 {
		t.Errorf("list: %d %v", len(list), err)
	}
	if _, err := q.Get(ctx, "999999"); !errors.Is(err, jobs.ErrNotFound) {
		t.Errorf("unknown job: %v", err)
	}
}

// TestCancelRunning: cancelling a job through one instance stops its run
// on the instance that holds it.
func TestCancelRunning(t *testing.T) {
	schema := database(t)
	ctx := context.Background()
	var ins []*instance
	for _, id := range []string{"a", "b"} {
		in, err := startInstance(ctx, schema, id, true, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := in.close(); err != nil {
				t.Errorf("instance %s: %v", in.id, err)
			}
		})
		ins = append(ins, in)
	}
	// "block" runs until its context ends: only the cancel ends it.
	j, err := ins[0].svc.Submit(owner, jobs.Spec{Command: "block"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the job runs", func() bool {
		got, err := ins[1].svc.Get(owner, j.ID)
		return err == nil && got.State == jobs.StateRunning
	})
	for _, in := range ins {
		c, err := in.svc.Cancel(owner, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.State.Final() && c.State != jobs.StateCancelled {
			t.Fatalf("cancel: %+v", c)
		}
	}
	waitFor(t, "the job is cancelled", func() bool {
		got, err := ins[0].svc.Get(owner, j.ID)
		return err == nil && got.State == jobs.StateCancelled
	})
	var finished int
	if err := ins[0].pool.QueryRow(ctx, `SELECT count(*) FROM runs WHERE finished IS NOT NULL`).Scan(&finished); err != nil || finished != 1 {
		t.Errorf("the run did not end: %d %v", finished, err)
	}
}
