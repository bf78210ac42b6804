package vendorhttp_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// TestRetrierRetriesOnlyIdempotent sends calls to a server that answers
// 503 (Retry-After: 1) before it answers 200: GETs and marked POSTs are
// retried after the announced wait, other POSTs return the 503.
func TestRetrierRetriesOnlyIdempotent(t *testing.T) {
	var fails atomic.Int32
	srv := newRecorder(t, func(w http.ResponseWriter, req *http.Request) {
		if fails.Add(-1) >= 0 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	c, err := vendorhttp.New(srv.Client(), srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	r := &vendorhttp.Retrier{Client: c, Retries: 3, Base: time.Millisecond,
		Wait: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	for _, tc := range []struct {
		name   string
		method string
		mark   bool
		status int
		waits  int
	}{
		{"GET", http.MethodGet, false, 200, 2},
		{"marked POST", http.MethodPost, true, 200, 2},
		{"POST", http.MethodPost, false, 503, 0},
	} {
		fails.Store(2)
		waits = nil
		ctx := context.Background()
		if tc.mark {
			ctx = vendorhttp.Idempotent(ctx)
		}
		req, err := http.NewRequestWithContext(ctx, tc.method, srv.URL+"/x", strings.NewReader("body"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := r.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || len(waits) != tc.waits {
			t.Errorf("%s: status %d after %d waits, want %d after %d", tc.name, resp.StatusCode, len(waits), tc.status, tc.waits)
		}
		for _, w := range waits {
			if w != time.Second {
				t.Errorf("%s: waited %v, want the Retry-After of 1s", tc.name, w)
			}
		}
	}
}

// TestRetryAfter parses both forms of the header and refuses others.
func TestRetryAfter(t *testing.T) {
	if d, ok := vendorhttp.RetryAfter("7"); !ok || d != 7*time.Second {
		t.Errorf("RetryAfter(7) = %v, %v", d, ok)
	}
	if d, ok := vendorhttp.RetryAfter("Mon, 01 Jan 2001 00:00:00 GMT"); !ok || d != 0 {
		t.Errorf("RetryAfter(past date) = %v, %v", d, ok)
	}
	for _, v := range []string{"", "-1", "soon"} {
		if _, ok := vendorhttp.RetryAfter(v); ok {
			t.Errorf("RetryAfter(%q) accepted", v)
		}
	}
}
