package main

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/internal/exampletest"
)

// collector is an OTLP/HTTP trace receiver on loopback that keeps the
// spans it is sent.
type collector struct {
	*httptest.Server
	mu    sync.Mutex
	spans []*tracepb.Span
}

func newCollector(t *testing.T) *collector {
	c := &collector{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		var req coltrace.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &req)
		}
		if r.URL.Path != "/v1/traces" || err != nil {
			t.Errorf("collector: %s %s: %v", r.Method, r.URL.Path, err)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				c.spans = append(c.spans, ss.Spans...)
			}
		}
		c.mu.Unlock()
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(c.Close)
	return c
}

// The starter sends the kit's spans to the collector that
// OTEL_EXPORTER_OTLP_ENDPOINT names, in the caller's trace, under the
// application's server span.
func TestExample(t *testing.T) {
	col := newCollector(t)
	srv := exampletest.Start(t, "github.com/computemw/kit/examples/tracing", "OTEL_EXPORTER_OTLP_ENDPOINT="+col.URL)
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	r := computemwtest.Do(t, context.Background(), "POST", srv.URL+"/api/execute", `{"language":"bash","code":"echo $((2+2))"}`,
		map[string]string{"traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"})
	if r.Status != 200 || r.Body["output"] != "4\n" {
		t.Fatalf("execute: %d %s", r.Status, r.Raw)
	}
	srv.Stop(t) // the tracer provider sends what it holds as the starter exits

	col.mu.Lock()
	defer col.mu.Unlock()
	var server *tracepb.Span
	got := map[string]*tracepb.Span{}
	for _, s := range col.spans {
		if hex.EncodeToString(s.TraceId) != traceID {
			t.Errorf("span %s in trace %x, not the caller's", s.Name, s.TraceId)
		}
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER {
			server = s
		}
		got[s.Name] = s
	}
	if server == nil {
		t.Fatalf("no server span among %d spans", len(col.spans))
	}
	for _, name := range []string{"computemw.admission", "computemw.policies", "computemw.create", "computemw.execution", "computemw.destroy"} {
		s := got[name]
		if s == nil {
			t.Errorf("no %s span", name)
			continue
		}
		if !slices.Equal(s.ParentSpanId, server.SpanId) {
			t.Errorf("%s: parent %x, want the server span %x", name, s.ParentSpanId, server.SpanId)
		}
	}
}
