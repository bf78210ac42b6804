package exampletest

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/computemw/kit/computemw/computemwtest"
)

// CheckFrameworkStarter runs the checks every framework starter (gin, echo,
// fiber) must pass: the route group runs code, the validated POST /execute
// route runs code and refuses a bad body with 400 BAD_REQUEST before any
// sandbox is created, and the middleware route runs code in the request's
// sandbox, with its errors going through the global error handler.
func CheckFrameworkStarter(t *testing.T, srv *Server) {
	t.Helper()
	post := func(path, body string) *computemwtest.Reply {
		return computemwtest.Do(t, context.Background(), http.MethodPost, srv.URL+path, body, nil)
	}
	r := post("/api/execute", `{"language":"python","code":"print(2+2)"}`)
	if r.Status != 200 || r.Body["output"] != "4\n" || r.Body["success"] != true {
		t.Errorf("route group: %d %s", r.Status, r.Raw)
	}
	r = post("/execute", `{"language":"python","code":"print(3+4)"}`)
	if r.Status != 200 || r.Body["output"] != "7\n" {
		t.Errorf("validated route: %d %s", r.Status, r.Raw)
	}
	r = post("/api/compute/python", `{"code":"print(6*7)"}`)
	if r.Status != 200 || r.Body["stdout"] != "42\n" {
		t.Errorf("middleware route: %d %s", r.Status, r.Raw)
	}

	// Validation fails before any sandbox is created.
	before := sandboxesCreated(t, srv.URL)
	if before < 3 {
		t.Errorf("metrics count %v sandbox creations, want at least 3", before)
	}
	for _, body := range []string{`{"language":"python"}`, `{"code":"print(1)"}`, `{"code":1,"language":"python"}`, `{"code":`} {
		r = post("/execute", body)
		if r.Status != 400 || r.Code() != "BAD_REQUEST" || r.Body["requestId"] == "" {
			t.Errorf("validation of %s: %d %s", body, r.Status, r.Raw)
		}
	}
	if after := sandboxesCreated(t, srv.URL); after != before {
		t.Errorf("invalid requests created %v sandboxes", after-before)
	}
	// Jobs are on by default.
	CheckJobs(t, srv)
	// Every starter serves the metrics at the root too, where scrapers
	// look, governed as the route group's.
	CheckMetrics(t, srv, nil, "/metrics", "/api/metrics")
	// A handler's error reaches the global error handler.
	r = post("/api/compute/python", `{"code":`)
	if r.Status != 400 || r.Code() != "BAD_REQUEST" {
		t.Errorf("error handler: %d %s", r.Status, r.Raw)
	}
}

// sandboxesCreated reads the count of sandbox creations from the metrics.
func sandboxesCreated(t *testing.T, base string) float64 {
	t.Helper()
	r := computemwtest.Do(t, context.Background(), http.MethodGet, base+"/api/metrics", "", nil)
	var n float64
	sc := bufio.NewScanner(bytes.NewReader(r.Raw))
	for sc.Scan() {
		if name, rest, ok := strings.Cut(sc.Text(), " "); ok && strings.HasPrefix(name, "compute_sandbox_create_duration_seconds_count") {
			v, _ := strconv.ParseFloat(rest, 64)
			n += v
		}
	}
	return n
}
