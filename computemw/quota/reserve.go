package quota

import (
	"context"
	"time"

	"github.com/computemw/kit/computemw"
)

// prepaidKey marks a context whose execution was reserved earlier.
type prepaidKey struct{}

// Prepaid returns ctx in which the next execution's authorization takes
// over the execution reserved at accepted (by an earlier authorization,
// such as a queued job's submit) rather than reserving another: the run
// is charged its CPU and memory as usual, and gives the reservation back
// if it cannot run. It implements jobs.Reserver.
func (q *Quota) Prepaid(ctx context.Context, accepted time.Time) context.Context {
	return context.WithValue(ctx, prepaidKey{}, accepted)
}

// ReleaseReservation gives back one execution reserved for p at accepted
// whose work will never run (a queued job refused or cancelled). It
// implements jobs.Reserver.
func (q *Quota) ReleaseReservation(ctx context.Context, p computemw.Principal, accepted time.Time) {
	if p.ID == "" {
		return
	}
	q.add(ctx, p.ID, q.period(accepted), Usage{Executions: -1})
}

// prepaid returns the ticket of an execution reserved earlier, when ctx
// says it was.
func (q *Quota) prepaid(ctx context.Context, p computemw.Principal) *ticket {
	at, ok := ctx.Value(prepaidKey{}).(time.Time)
	if !ok {
		return nil
	}
	return &ticket{key: p.ID, period: q.period(at)}
}
