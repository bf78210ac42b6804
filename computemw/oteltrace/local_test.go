package oteltrace_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/oteltrace"
	"github.com/computemw/kit/providers/local"
)

const apiKey = "trace-key-0123456789"

// localServer serves the route group of a kit over a real local provider
// (bwrap sandboxes) on loopback, with an API key for the caller "alice".
// At cleanup the kit is closed and no workspace may be left.
func localServer(t *testing.T, cfg computemw.Config) (*httptest.Server, *computemw.Kit) {
	t.Helper()
	_, err := exec.LookPath("bwrap")
	computemwtest.Require(t, err == nil, "bubblewrap (bwrap) is not installed")
	base, err := os.MkdirTemp("", "computemw-oteltrace-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o711); err != nil {
		t.Fatal(err)
	}
	prov, err := local.New(local.Config{BaseDir: base, Logger: slog.New(slog.DiscardHandler), WarmPool: local.PoolConfig{Size: -1}})
	if err != nil {
		t.Fatalf("local.New: %v", err)
	}
	authn, err := auth.New(auth.Config{APIKeys: map[string]computemw.Principal{
		auth.HashAPIKey(apiKey): {ID: "alice", Role: "user"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Providers = []computemw.Provider{prov}
	cfg.Policies = []computemw.Policy{authn}
	cfg.Logger = slog.New(slog.DiscardHandler)
	kit, err := computemw.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := kit.Close(ctx); err != nil {
			t.Errorf("kit.Close: %v", err)
		}
		if left, _ := filepath.Glob(filepath.Join(base, "*")); len(left) != 0 {
			t.Errorf("left behind: %v", left)
		}
		_ = os.RemoveAll(base)
	})
	return srv, kit
}

// execute posts a program to /api/execute with the given headers and
// returns the status and the decoded answer.
func execute(t *testing.T, srv *httptest.Server, body string, h http.Header) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/api/execute", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h.Clone()
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return resp.StatusCode, out
}

// The remote parent a caller sends in its traceparent header.
var (
	remoteTrace = mustTraceID("4bf92f3577b34da6a3ce929d0e0e4736")
	remoteSpan  = mustSpanID("00f067aa0ba902b7")
	traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
)

func mustTraceID(s string) trace.TraceID {
	id, err := trace.TraceIDFromHex(s)
	if err != nil {
		panic(err)
	}
	return id
}

func mustSpanID(s string) trace.SpanID {
	id, err := trace.SpanIDFromHex(s)
	if err != nil {
		panic(err)
	}
	return id
}

// One POST /api/execute on real sandboxes is the five steps, in order,
// under the caller's remote parent, with the kit's attributes: the
// caller's ID and never its key, the sandbox that create made, the
// program's exit code.
func TestExecuteStepsOnLocal(t *testing.T) {
	rec := newRecorder(t)
	// Destroy before answering, so that every span has ended when the
	// answer arrives.
	srv, _ := localServer(t, computemw.Config{Tracer: oteltrace.New(rec, oteltrace.Options{}), DestroyBeforeReturn: true})

	status, out := execute(t, srv, `{"language":"sh","code":"echo traced; exit 3"}`,
		http.Header{"X-Api-Key": {apiKey}, "Traceparent": {traceparent}})
	if status != http.StatusOK || out["exitCode"] != float64(3) || !strings.Contains(out["output"].(string), "traced") {
		t.Fatalf("answer %d %v", status, out)
	}

	spans := rec.spans()
	steps := []string{"computemw.admission", "computemw.policies", "computemw.create", "computemw.execution", "computemw.destroy"}
	if got := names(spans); strings.Join(got, " ") != strings.Join(steps, " ") {
		t.Fatalf("spans %v, want %v in that order", got, steps)
	}
	sandbox := ""
	for i, s := range spans {
		if s.Parent.TraceID() != remoteTrace || s.Parent.SpanID() != remoteSpan || !s.Parent.IsRemote() {
			t.Errorf("%s: parent %s/%s, want the caller's remote span", s.Name, s.Parent.TraceID(), s.Parent.SpanID())
		}
		if s.SpanKind != trace.SpanKindInternal || s.Status.Code == codes.Error {
			t.Errorf("%s: kind %v, status %v", s.Name, s.SpanKind, s.Status)
		}
		if i > 0 && s.StartTime.Before(spans[i-1].EndTime) {
			t.Errorf("%s started before %s ended", s.Name, spans[i-1].Name)
		}
		a := attrs(s)
		if a["computemw.op"] != "execute" || a["computemw.principal"] != "alice" {
			t.Errorf("%s: attributes %v", s.Name, a)
		}
		for k, v := range a {
			if strings.Contains(v, apiKey) {
				t.Errorf("%s: attribute %s holds the API key", s.Name, k)
			}
		}
		if s.Name == "computemw.admission" {
			continue
		}
		if a["computemw.provider"] != "local" {
			t.Errorf("%s: provider %q", s.Name, a["computemw.provider"])
		}
		if s.Name == "computemw.policies" {
			continue
		}
		if sandbox == "" {
			sandbox = a["computemw.sandbox.id"]
		}
		if a["computemw.sandbox.id"] != sandbox || sandbox == "" || sandbox != out["sandboxId"] {
			t.Errorf("%s: sandbox %q, want %v", s.Name, a["computemw.sandbox.id"], out["sandboxId"])
		}
	}
	if a := attrs(one(t, spans, "computemw.execution")); a["computemw.exit_code"] != "3" || a["computemw.language"] != "sh" {
		t.Errorf("execution attributes %v", a)
	}

	// A refused caller: the admission fails with the kit's code, and
	// nothing else happens.
	rec.exp.Reset()
	status, _ = execute(t, srv, `{"language":"sh","code":"echo no"}`, http.Header{"X-Api-Key": {"wrong-key-0123456789"}, "Traceparent": {traceparent}})
	if status != http.StatusUnauthorized {
		t.Fatalf("status %d with a wrong key", status)
	}
	spans = rec.spans()
	adm := one(t, spans, "computemw.admission")
	if len(spans) != 1 || adm.Status.Code != codes.Error || attrs(adm)["computemw.error.code"] != "UNAUTHORIZED" || attrs(adm)["error.type"] != "UNAUTHORIZED" {
		t.Errorf("spans %v; admission %v %v", names(spans), adm.Status, adm.Attributes)
	}
}

// A kit without a Tracer makes no span, though the caller sent a trace
// and the process has a global TracerProvider.
func TestNoTracerNoSpans(t *testing.T) {
	rec := newRecorder(t)
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(rec)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	srv, _ := localServer(t, computemw.Config{DestroyBeforeReturn: true})
	status, out := execute(t, srv, `{"language":"sh","code":"echo untraced"}`,
		http.Header{"X-Api-Key": {apiKey}, "Traceparent": {traceparent}})
	if status != http.StatusOK || out["exitCode"] != float64(0) {
		t.Fatalf("answer %d %v", status, out)
	}
	if spans := rec.spans(); len(spans) != 0 {
		t.Errorf("spans without a tracer: %v", names(spans))
	}
}
