package computemw

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// benchProvider is the cheapest possible provider, so that benchmarks
// measure the kit and not sandboxes.
type benchProvider struct{}

func (benchProvider) Name() string        { return "bench" }
func (benchProvider) Languages() []string { return []string{"python"} }

func (benchProvider) Runtimes(context.Context) ([]Runtime, error) { return nil, nil }

func (benchProvider) TemplateNames() []string { return nil }
func (benchProvider) Create(context.Context, CreateOptions) (Sandbox, error) {
	return benchSandbox{}, nil
}

type benchSandbox struct{}

func (benchSandbox) ID() string       { return "bench-1" }
func (benchSandbox) Provider() string { return "bench" }
func (benchSandbox) Exec(context.Context, string, ExecOptions) (*Result, error) {
	return &Result{Stdout: "", ExecutionTime: time.Millisecond}, nil
}
func (s benchSandbox) RunCode(ctx context.Context, _, code string, o ExecOptions) (*Result, error) {
	return s.Exec(ctx, code, o)
}
func (benchSandbox) ReadFile(context.Context, string) ([]byte, error)      { return nil, nil }
func (benchSandbox) WriteFile(context.Context, string, []byte) error       { return nil }
func (benchSandbox) ListFiles(context.Context, string) ([]FileInfo, error) { return nil, nil }
func (benchSandbox) Stat(context.Context, string) (FileInfo, error)        { return FileInfo{}, nil }
func (benchSandbox) Mkdir(context.Context, string) error                   { return nil }
func (benchSandbox) Remove(context.Context, string) error                  { return nil }
func (benchSandbox) Usage(context.Context) (Usage, error)                  { return Usage{}, nil }
func (benchSandbox) Destroy(context.Context) error                         { return nil }

// benchKit builds a kit over benchProvider; observed keeps the kit's own
// metrics and execution log (JSON to io.Discard at Info) plus one user
// hook, the way an operator runs it; otherwise every hook is removed.
func benchKit(b *testing.B, observed bool) *Kit {
	k, err := New(Config{
		Providers: []Provider{benchProvider{}},
		Logger:    slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Hooks:     []*Hooks{{}},
	})
	if err != nil {
		b.Fatal(err)
	}
	if !observed {
		k.cfg.Hooks = nil
	}
	return k
}

func benchExec(b *testing.B, k *Kit) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := k.Execute(ctx, Run{Command: "true"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkObserved and BenchmarkUnobserved measure the per-request cost
// of metrics, hooks and the execution log: their difference.
func BenchmarkObserved(b *testing.B)   { benchExec(b, benchKit(b, true)) }
func BenchmarkUnobserved(b *testing.B) { benchExec(b, benchKit(b, false)) }

// BenchmarkObservedNoLog is BenchmarkObserved with the log at Warn: the
// cost of metrics and hooks alone.
func BenchmarkObservedNoLog(b *testing.B) {
	k := benchKit(b, true)
	k.log = slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	benchExec(b, k)
}
