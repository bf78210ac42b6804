package computemw

import (
	"context"
	"log/slog"
	"time"
)

// execLog writes one log line per execution, tying the request to its
// sandbox's outcome: request ID, provider, language, status, duration and
// exit code.
type execLog struct {
	nopObserver
	k *Kit
}

func (l execLog) ExecutionFinished(ctx context.Context, a *Action, res *Result, err error, took time.Duration) {
	level := slog.LevelInfo
	if err != nil && AsError(err).Code == CodeInternal {
		level = slog.LevelError
	}
	if !l.k.log.Enabled(ctx, level) {
		return
	}
	exit := -1
	if res != nil {
		exit = res.ExitCode
	}
	attrs := [...]slog.Attr{
		slog.String("requestId", RequestIDFrom(ctx)),
		slog.String("principal", principalID(ctx)),
		slog.String("op", string(a.Op)),
		slog.String("provider", a.Provider),
		slog.String("language", a.Language),
		slog.String("status", executionStatus(res, err)),
		slog.Duration("duration", took),
		slog.Int("exitCode", exit),
	}
	l.k.log.LogAttrs(ctx, level, "computemw: execution", attrs[:]...)
}
