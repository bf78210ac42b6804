package jobs

import (
	"context"
	"time"
)

// Observer receives the service's measurements: prommetrics.Metrics is
// one (compute_jobs_* series). The service uses Config.Observer, else the
// kit's Config.Metrics when it implements Observer.
type Observer interface {
	// ObserveJobQueue is called once when the service starts, with a
	// function that returns the number of jobs waiting for a worker.
	ObserveJobQueue(depth func(ctx context.Context) (int64, error))
	// JobStarted reports a job's run beginning after waiting that long
	// since it was submitted.
	JobStarted(waited time.Duration)
	// JobFinished reports a finished run's verdict (a Verdict, or
	// "cancelled").
	JobFinished(verdict string)
	// JobsRefused reports a submit refused for the per-caller cap.
	JobsRefused(n int)
	// WebhookFinished reports a callback's fate: "delivered", "failed"
	// (every attempt failed), "refused" (the address is not allowed),
	// with the number of attempts made.
	WebhookFinished(outcome string, attempts int)
}

// nopObserver observes nothing.
type nopObserver struct{}

func (nopObserver) ObserveJobQueue(func(context.Context) (int64, error)) {}
func (nopObserver) JobStarted(time.Duration)                             {}
func (nopObserver) JobFinished(string)                                   {}
func (nopObserver) JobsRefused(int)                                      {}
func (nopObserver) WebhookFinished(string, int)                          {}
