package oteltrace_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/computemw/oteltrace"
)

// A kit traced into an in-memory exporter: one execution is its five
// steps, each with the kit's attributes.
func ExampleNew() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	kit, err := computemw.New(computemw.Config{
		Providers:           []computemw.Provider{fakeprovider.New("fake")},
		Tracer:              oteltrace.New(tp, oteltrace.Options{}),
		DestroyBeforeReturn: true,
	})
	if err != nil {
		panic(err)
	}
	defer kit.Close(context.Background())

	ctx := computemw.WithPrincipal(context.Background(), computemw.Principal{ID: "alice"})
	if _, err := kit.Execute(ctx, computemw.Run{Command: "echo hello"}); err != nil {
		panic(err)
	}
	for _, s := range exp.GetSpans() {
		fmt.Print(s.Name)
		for _, kv := range s.Attributes {
			if kv.Key == oteltrace.KeyPrincipal || kv.Key == oteltrace.KeyExitCode {
				fmt.Printf(" %s=%s", kv.Key, kv.Value.Emit())
			}
		}
		fmt.Println()
	}
	// Output:
	// computemw.admission computemw.principal=alice
	// computemw.policies computemw.principal=alice
	// computemw.create computemw.principal=alice
	// computemw.execution computemw.principal=alice computemw.exit_code=0
	// computemw.destroy computemw.principal=alice
}
