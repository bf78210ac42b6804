package modal_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/internal/providertest"
	"github.com/computemw/kit/providers/modal"
	"github.com/computemw/kit/providers/modal/modalfake"
)

// lockedBuffer is a log sink safe for the SDK's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// With the SDK logging at debug level, through every operation and a
// failure, neither the token secret nor the JWTs the fake issues appear
// in the log or in an error.
func TestCredentialsNeverLogged(t *testing.T) {
	var log lockedBuffer
	logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, fake := newProvider(t, modal.Options{Logger: logger})
	ctx := ctxT(t, 30*time.Second)
	sb := create(t, p, computemw.CreateOptions{})
	if _, err := sb.Exec(ctx, "echo hi", computemw.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := sb.WriteFile(ctx, "f", []byte("x")); err != nil {
		t.Fatal(err)
	}
	fake.Inject(modalfake.Fault{Method: "SandboxListV2", Code: codes.PermissionDenied, Times: 10})
	_, err := p.List(ctx, 0)
	providertest.WantCode(t, "List refused", err, computemw.CodeUnavailable)
	if log.String() == "" {
		t.Fatal("the SDK logged nothing at debug level")
	}
	for _, secret := range []string{fake.TokenSecret} {
		if strings.Contains(log.String(), secret) || strings.Contains(err.Error(), secret) {
			t.Errorf("the token secret appears in the log or an error")
		}
	}
}
