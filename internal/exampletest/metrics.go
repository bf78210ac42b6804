package exampletest

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// foreignHost is a Host name no starter serves.
const foreignHost = "rebound.example"

// CheckMetrics checks that every path in paths that serves the kit's
// metrics is governed as the route group's /api/metrics is: creds (the
// headers of an allowed caller, nil when the starter has no
// authentication) get the metrics; a caller without them (when creds is
// not nil) gets the same refusal as /api/metrics; and a request naming a
// Host the starter does not serve is refused with 403, with creds or
// without.
func CheckMetrics(t *testing.T, srv *Server, creds map[string]string, paths ...string) {
	t.Helper()
	want, _ := getMetrics(t, srv.URL+"/api/metrics", "", nil)
	if creds != nil && want < 400 {
		t.Fatalf("/api/metrics without credentials: %d, want a refusal", want)
	}
	for _, p := range paths {
		if st, body := getMetrics(t, srv.URL+p, "", creds); st != 200 || !strings.Contains(body, "compute_") {
			t.Errorf("GET %s as an allowed caller: %d %.200s", p, st, body)
		}
		if creds != nil {
			if st, body := getMetrics(t, srv.URL+p, "", nil); st != want {
				t.Errorf("GET %s without credentials: %d %.200s, want %d as /api/metrics", p, st, body, want)
			}
		}
		hs := []map[string]string{nil}
		if creds != nil {
			hs = append(hs, creds)
		}
		for _, h := range hs {
			if st, body := getMetrics(t, srv.URL+p, foreignHost, h); st != http.StatusForbidden || strings.Contains(body, "compute_") {
				t.Errorf("GET %s on Host %s (credentials %v): %d %.200s, want 403", p, foreignHost, h != nil, st, body)
			}
		}
	}
}

// getMetrics GETs url, naming host in the request when it is not "".
func getMetrics(t *testing.T, url, host string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}
