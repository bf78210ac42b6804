package jobs

import (
	"context"
	"time"

	"github.com/computemw/kit/computemw"
)

// The operations of jobs, for policies, hooks and logs.
const (
	// OpJobs is a request of the job routes: submit, list, read, cancel.
	OpJobs computemw.Op = "jobs"
	// OpRun admits a queued job's run on its submitter's behalf. The
	// submit was counted by the rate limits, so ratelimit exempts it by
	// default; the run's execution is authorized like any other (roles,
	// the quota's reservation made at submit).
	OpRun computemw.Op = "job-run"
)

// Reserver is a policy that reserves an execution when a job is accepted
// and lets the job's run use that reservation rather than make another:
// quota.Quota is one. The service finds Reservers in the kit's
// Config.Policies. At submit, the service authorizes an execution for
// each job ([computemw.Kit.Authorize] with OpExecute), which reserves it;
// when the job never runs (refused by the queue cap, cancelled while
// queued) the service calls ReleaseReservation; when it runs, its
// execution is authorized in the context Prepaid returns.
type Reserver interface {
	// ReleaseReservation gives back the execution reserved for the
	// principal's job accepted at the given time.
	ReleaseReservation(ctx context.Context, principal computemw.Principal, accepted time.Time)
	// Prepaid returns ctx in which the authorization of an execution
	// takes over the reservation made at accepted instead of making one.
	Prepaid(ctx context.Context, accepted time.Time) context.Context
}

// reservers returns the kit's policies that reserve executions.
func reservers(kit *computemw.Kit) []Reserver {
	var out []Reserver
	for _, p := range kit.Config().Policies {
		if r, ok := p.(Reserver); ok {
			out = append(out, r)
		}
	}
	return out
}
