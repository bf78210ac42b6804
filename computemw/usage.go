package computemw

import (
	"context"
)

// UsageReporter is implemented by policies that track usage, such as
// quota.Quota; GET /usage answers with the report of the first one in
// Config.Policies.
type UsageReporter interface {
	// ReportUsage returns p's usage, as a value that marshals to JSON.
	ReportUsage(ctx context.Context, p Principal) (any, error)
}
