package computemw

import (
	"context"
	"net/http"
	"time"
)

// UsageReporter is implemented by policies that track usage, such as
// [Quota]; GET /usage answers with the report of the first one in
// Config.Policies.
type UsageReporter interface {
	// ReportUsage returns p's usage in the current period.
	ReportUsage(ctx context.Context, p Principal) (*UsageReport, error)
}

// UsageReport is the body of GET /usage: the caller's own usage in the
// current period, and its plan's limits (null where unlimited).
type UsageReport struct {
	Principal   string     `json:"principal"`
	Plan        string     `json:"plan"`
	Period      string     `json:"period"`
	PeriodStart time.Time  `json:"periodStart"`
	PeriodEnd   time.Time  `json:"periodEnd"`
	Usage       QuotaUsage `json:"usage"`
	Limits      LimitsBody `json:"limits"`
}

// LimitsBody is the JSON form of [QuotaLimits]: nil is unlimited.
type LimitsBody struct {
	Executions      *int64   `json:"executions"`
	CPUSeconds      *float64 `json:"cpuSeconds"`
	MemoryMBSeconds *float64 `json:"memoryMBSeconds"`
}

func limitsBody(l QuotaLimits) LimitsBody {
	var b LimitsBody
	if l.Executions > 0 {
		b.Executions = &l.Executions
	}
	if l.CPUSeconds > 0 {
		b.CPUSeconds = &l.CPUSeconds
	}
	if l.MemoryMBSeconds > 0 {
		b.MemoryMBSeconds = &l.MemoryMBSeconds
	}
	return b
}

// handleUsage serves GET /usage: the caller's own usage. It is 401
// without an authenticated caller and 404 when no policy tracks usage.
func (k *Kit) handleUsage(ctx context.Context, _ *Request) (*Response, error) {
	p, ok := PrincipalFrom(ctx)
	if !ok || p.ID == "" {
		if h := ResponseHeader(ctx); h != nil && h.Get("WWW-Authenticate") == "" {
			h.Set("WWW-Authenticate", `Bearer realm="computemw"`)
		}
		return nil, &Error{Code: CodeUnauthorized, Message: "authentication required"}
	}
	for _, pol := range k.cfg.Policies {
		if r, ok := pol.(UsageReporter); ok {
			rep, err := r.ReportUsage(ctx, p)
			if err != nil {
				return nil, err
			}
			return JSON(http.StatusOK, rep)
		}
	}
	return nil, &Error{Code: CodeNotFound, Message: "usage tracking is not configured"}
}
