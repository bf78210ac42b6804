// Package riverqueue is a durable [jobs.Queue] in PostgreSQL, on River
// (github.com/riverqueue/river): jobs and their results are rows that
// every kit instance sharing the database can work, a job is fetched by
// one worker at a time (SELECT ... FOR UPDATE SKIP LOCKED), and finished
// jobs are kept for Config.Retention.
//
// A job whose instance died mid-run is not lost: every instance records
// a heartbeat, and a job running on an instance whose heartbeat is older
// than Config.LivenessTimeout is put back in the queue (or, after
// Config.MaxAttempts runs, marked failed) by any other instance. An
// instance that cannot record its heartbeat for half that time stops its
// own runs first, so that a job is never run twice at once. River's own
// rescue of jobs running longer than Config.JobTimeout allows stays as a
// backstop.
//
// Import it only where PostgreSQL is used: the jobs package does not
// depend on it.
package riverqueue
