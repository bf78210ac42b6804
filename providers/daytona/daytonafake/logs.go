package daytonafake

import (
	"net/http"
	"strconv"
	"strings"
)

// splitLogsFrom is the first SDK version to which the toolbox answers a
// command's logs as JSON with stdout and stderr apart (toolbox spec,
// GetSessionCommandLogs).
var splitLogsFrom = [3]int{0, 167, 0}

// wantsSplitLogs follows the daemon's choice of log format
// (apps/daemon/pkg/toolbox/process/session/log.go and
// apps/daemon/pkg/session/common.go, daytona v0.190.0): the JSON object
// for an X-Daytona-SDK-Version of 0.167.0 or later (or a dev build), the
// legacy combined text for no version, an earlier one or one it cannot
// parse.
func wantsSplitLogs(h http.Header) bool {
	v := h.Get("X-Daytona-SDK-Version")
	if v == "" {
		return false
	}
	if strings.Contains(v, "dev") {
		return true
	}
	core, _, _ := strings.Cut(strings.TrimPrefix(v, "v"), "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return false
	}
	var n [3]int
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 {
			return false
		}
		n[i] = x
	}
	for i := range n {
		if n[i] != splitLogsFrom[i] {
			return n[i] > splitLogsFrom[i]
		}
	}
	return true
}

// writeLogs answers GetSessionCommandLogs in the format the client's SDK
// version asks for; a fault's LegacyLogsAsText or LegacyLogsAsJSON sends
// the legacy combined output (as text, or as a JSON string) instead.
func writeLogs(q *request, stdout, stderr string) {
	legacy := q.fault != nil && (q.fault.LegacyLogsAsJSON || q.fault.LegacyLogsAsText)
	if wantsSplitLogs(q.r.Header) && !legacy {
		writeJSON(q.w, 200, map[string]string{"stdout": stdout, "stderr": stderr, "output": stdout + stderr})
		return
	}
	if q.fault != nil && q.fault.LegacyLogsAsJSON {
		writeJSON(q.w, 200, stdout+stderr)
		return
	}
	q.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	q.w.WriteHeader(200)
	q.w.Write([]byte(stdout + stderr))
}
