package graphql_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/transports/graphql"
)

// serve starts a real net/http server on loopback with the GraphQL
// endpoint at /graphql and the kit's route group under /api (for
// /api/metrics); it returns the base URL and stops at cleanup.
func serve(t *testing.T, kit *computemw.Kit, opts graphql.Options) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/graphql", graphql.New(kit, opts))
	computehttp.Mount(mux, "/api", kit)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// gqlError is one error of a GraphQL response.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code is the error's extensions.code.
func (e gqlError) Code() string { s, _ := e.Extensions["code"].(string); return s }

// gqlReply is a decoded GraphQL response over HTTP.
type gqlReply struct {
	Status int
	Header http.Header
	Data   map[string]any
	Errors []gqlError
	Raw    string
}

// codes lists the errors' codes.
func (r *gqlReply) codes() []string {
	var out []string
	for _, e := range r.Errors {
		out = append(out, e.Code())
	}
	return out
}

// post sends a GraphQL document with variables (nil for none) and the
// given headers.
func post(t *testing.T, base, query string, vars map[string]any, header http.Header) *gqlReply {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	return postRaw(t, base, "application/json", body, header)
}

// postRaw sends body as it is, with Content-Type ctype.
func postRaw(t *testing.T, base, ctype string, body []byte, header http.Header) *gqlReply {
	t.Helper()
	return do(t, http.MethodPost, base+"/graphql", ctype, body, header)
}

func do(t *testing.T, method, url, ctype string, body []byte, header http.Header) *gqlReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if host := header.Get("Host"); host != "" {
		req.Host = host
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := &gqlReply{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	var b struct {
		Data   map[string]any `json:"data"`
		Errors []gqlError     `json:"errors"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatalf("%s %s: %d, body is not JSON: %q", method, url, resp.StatusCode, raw)
	}
	r.Data, r.Errors = b.Data, b.Errors
	return r
}

// field returns data[name] as an object.
func (r *gqlReply) field(t *testing.T, name string) map[string]any {
	t.Helper()
	m, ok := r.Data[name].(map[string]any)
	if !ok {
		t.Fatalf("data.%s missing: %s", name, r.Raw)
	}
	return m
}

// metricsText scrapes GET /api/metrics.
func metricsText(t *testing.T, base string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /api/metrics: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// moduleRoot walks up from the test's working directory to go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// waitFor polls cond, a cheap in-process check, until it holds or 10s
// pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

var _ = strings.Contains
