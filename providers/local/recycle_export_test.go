//go:build linux

package local

import (
	"time"

	"github.com/computemw/kit/computemw"
)

// SandboxMaxExec returns the longest one execution of a sandbox may run
// (its create's Resources.MaxExecutionTime, within MaxExecTimeout).
func SandboxMaxExec(sb computemw.Sandbox) time.Duration { return sb.(*sandbox).maxExec }
