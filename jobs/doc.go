// Package jobs runs executions that outlive the request that asked for
// them: a caller submits a job (everything POST /execute or /exec takes,
// plus an expected output to grade against and a callback URL) and gets
// its ID at once; the job waits in a [Queue], a worker of any kit
// instance runs it as a governed execution on the submitter's behalf,
// grades it with a [Verdict] in Judge0's vocabulary, keeps the result for
// Config.Retention, and POSTs it, signed, to the callback URL.
//
// The queue is pluggable: [NewMemoryQueue] keeps jobs in this process
// (the default, for one instance with nothing to install); the
// jobs/riverqueue package keeps them in PostgreSQL through River, so that
// several instances share the work and a job survives the instance that
// was running it.
//
// The HTTP routes (POST /jobs, GET /jobs, GET /jobs/{id}, DELETE
// /jobs/{id}, POST /jobs/batch, GET /jobs/batch/{id}) are in the route
// group of every adapter once a [Service] is started for the kit; see
// docs/jobs.md.
package jobs
