package quota

import (
	"time"
)

// Report is the body of GET /usage: the caller's own usage in the
// current period, and its plan's limits (null where unlimited).
type Report struct {
	Principal   string     `json:"principal"`
	Plan        string     `json:"plan"`
	Period      string     `json:"period"`
	PeriodStart time.Time  `json:"periodStart"`
	PeriodEnd   time.Time  `json:"periodEnd"`
	Usage       Usage      `json:"usage"`
	Limits      LimitsBody `json:"limits"`
}

// LimitsBody is the JSON form of [Limits]: nil is unlimited.
type LimitsBody struct {
	Executions      *int64   `json:"executions"`
	CPUSeconds      *float64 `json:"cpuSeconds"`
	MemoryMBSeconds *float64 `json:"memoryMBSeconds"`
}

func limitsBody(l Limits) LimitsBody {
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
