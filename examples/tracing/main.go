// Command tracing is the starter that traces the kit with OpenTelemetry:
// the route group on the local provider, behind otelhttp's server
// middleware, with the kit's spans (admission, policies, create,
// execution, destroy) exported over OTLP/HTTP to the collector that
// OTEL_EXPORTER_OTLP_ENDPOINT names (default http://localhost:4318;
// OTEL_EXPORTER_OTLP_HEADERS and the other OTEL_EXPORTER_OTLP_* variables
// apply, and OTEL_SERVICE_NAME names the service).
//
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 OTEL_SERVICE_NAME=compute go run ./examples/tracing
//	curl -s localhost:8080/api/execute -H 'Content-Type: application/json' -d '{"language":"python","code":"print(2+2)"}'
//
// A caller that sends a W3C traceparent header gets the request's spans
// in its own trace.
package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/oteltrace"
	"github.com/computemw/kit/providers/local"
)

func main() {
	if err := run(); err != nil {
		slog.Error("computemw tracing example", "error", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT and its siblings.
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))

	prov, err := local.New(local.Config{})
	if err != nil {
		return errors.Join(err, tp.Shutdown(context.Background()))
	}
	kit, err := computemw.New(computemw.Config{
		Providers:    []computemw.Provider{prov},
		Tracer:       oteltrace.New(tp, oteltrace.Options{}),
		AllowedHosts: []string{"127.0.0.1", "localhost", "::1"},
	})
	if err != nil {
		return errors.Join(err, tp.Shutdown(context.Background()))
	}

	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit)
	// The application's own server span: the kit's spans go under it.
	// Without this middleware they go under the caller's traceparent.
	handler := otelhttp.NewHandler(mux, "compute", otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(propagation.TraceContext{}))

	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return errors.Join(err, kit.Close(ctx), tp.Shutdown(context.Background()))
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	slog.Info("computemw tracing example ready", "url", "http://"+ln.Addr().String())

	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	slog.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The server, then the kit (its last destroys are traced), then the
	// tracer provider, which sends the spans still buffered.
	return errors.Join(err, srv.Shutdown(sctx), kit.Close(sctx), tp.Shutdown(sctx))
}
