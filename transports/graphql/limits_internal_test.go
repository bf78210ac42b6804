package graphql

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
)

// countingCache counts the documents gqlgen is about to parse: it looks
// each one up in its query cache first.
type countingCache struct {
	queryCache
	lookups atomic.Int64
}

func (c *countingCache) Get(ctx context.Context, query string) (*ast.QueryDocument, bool) {
	c.lookups.Add(1)
	return c.queryCache.Get(ctx, query)
}

// limitServer serves h on loopback, with gqlgen's parses counted.
func limitServer(t *testing.T, h *Handler) (string, *countingCache) {
	t.Helper()
	cache := &countingCache{queryCache: queryCache{lru.New[*ast.QueryDocument](queryCacheSize)}}
	h.srv.SetQueryCache(cache)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL, cache
}

type reply struct {
	status int
	header http.Header
	errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	}
	raw string
}

func (r reply) code() string {
	if len(r.errors) == 0 {
		return ""
	}
	s, _ := r.errors[0].Extensions["code"].(string)
	return s
}

func postDoc(t *testing.T, url, query string, header http.Header) reply {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	var b struct {
		Errors json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatalf("body is not JSON: %d %.300q", resp.StatusCode, raw)
	}
	_ = json.Unmarshal(b.Errors, &r.errors)
	return r
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sameNamed is a document of n fields of one response name: the shape
// whose validation is quadratic.
func sameNamed(field string, n int) string {
	return "{" + strings.Repeat(" "+field, n) + " }"
}

// TestDocumentAdmittedBeforeParsing: a caller the kit refuses gets its
// 401 (or 429) before gqlgen sees the document, however costly that
// would be to parse; an admitted caller's document is parsed.
func TestDocumentAdmittedBeforeParsing(t *testing.T) {
	kit, fake := computemwtest.PolicyKit(t, computemwtest.PolicyOptions{RateLimit: 2})
	url, parses := limitServer(t, New(kit, Options{}))
	attack := sameNamed("a:__typename", 7000) // 91 KB; 2 CPU-seconds to validate without limits

	r := postDoc(t, url, attack, nil)
	if r.status != http.StatusUnauthorized || r.code() != "UNAUTHORIZED" || r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("attack without credentials: %d %v %.300s", r.status, r.header, r.raw)
	}
	if n := parses.lookups.Load(); n != 0 {
		t.Fatalf("a refused caller's document was parsed (%d)", n)
	}

	key := http.Header{"X-Api-Key": {computemwtest.PolicyAPIKey}}
	if r := postDoc(t, url, `{ __typename }`, key); r.status != 200 || len(r.errors) != 0 {
		t.Errorf("admitted caller: %d %s", r.status, r.raw)
	}
	if n := parses.lookups.Load(); n != 1 {
		t.Fatalf("an admitted caller's document: %d parses, want 1", n)
	}
	// The rate limit (2) counts documents: the third is refused unparsed.
	postDoc(t, url, `{ __typename }`, key)
	r = postDoc(t, url, attack, key)
	if r.status != http.StatusTooManyRequests || r.code() != "RATE_LIMITED" || r.header.Get("Retry-After") == "" {
		t.Errorf("over the rate limit: %d %v %.300s", r.status, r.header, r.raw)
	}
	if n := parses.lookups.Load(); n != 2 {
		t.Errorf("%d parses, want 2", n)
	}
	if fake.Created() != 0 {
		t.Errorf("created %d sandboxes", fake.Created())
	}
}

// TestDocumentCost: the costliest documents an admitted caller may send
// — the most same-named fields the token limit lets through, a fragment
// spread 2²⁶ times, fields conflicting pairwise — each cost well under a
// generous bound of CPU time (about a tenth of a second is typical), and
// are refused with a 4xx or a BAD_REQUEST error; a document past the
// token limit is refused before validation.
func TestDocumentCost(t *testing.T) {
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{})
	url, _ := limitServer(t, New(kit, Options{}))
	const bound = 2 * time.Second

	var bomb strings.Builder
	bomb.WriteString("{ ...F0 }")
	for i := range 26 {
		fmt.Fprintf(&bomb, " fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1)
	}
	bomb.WriteString(" fragment F26 on Query { __typename }")
	var conflicts strings.Builder
	conflicts.WriteString("{")
	for i := range 90 {
		fmt.Fprintf(&conflicts, ` a: readFile(path: "%d") { content }`, i)
	}
	conflicts.WriteString(" }")

	for _, c := range []struct {
		name   string
		query  string
		status int
		gqlErr string // the first error's graphqlCode
	}{
		// `{` and `}` are two of the tokens.
		{"most same-named fields", sameNamed("__typename", defaultMaxTokens-2), 200, "COMPLEXITY_LIMIT_EXCEEDED"},
		{"one token too many", sameNamed("__typename", defaultMaxTokens-1), 422, "GRAPHQL_PARSE_FAILED"},
		{"the 260 KB attack", sameNamed("a:__typename", 20000), 422, "GRAPHQL_PARSE_FAILED"},
		{"fragment bomb", bomb.String(), 200, "COMPLEXITY_LIMIT_EXCEEDED"},
		{"pairwise conflicts", conflicts.String(), 422, "GRAPHQL_VALIDATION_FAILED"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := cpuTime(t)
			r := postDoc(t, url, c.query, nil)
			used := cpuTime(t) - before
			t.Logf("%d bytes: %v of CPU", len(c.query), used)
			if used > bound {
				t.Errorf("cost %v of CPU, bound %v", used, bound)
			}
			if r.status != c.status || r.code() != "BAD_REQUEST" || r.errors[0].Extensions["graphqlCode"] != c.gqlErr {
				t.Errorf("%d %.300s, want %d %s", r.status, r.raw, c.status, c.gqlErr)
			}
			if len(r.errors) > maxValidationErrors {
				t.Errorf("%d errors", len(r.errors))
			}
		})
	}
}

// TestBodyCap: Options.MaxBodyBytes caps a POST's body with 413.
func TestBodyCap(t *testing.T) {
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{})
	url, parses := limitServer(t, New(kit, Options{MaxBodyBytes: 1000}))
	if r := postDoc(t, url, sameNamed("__typename", 100), nil); r.status != 413 || r.code() != "PAYLOAD_TOO_LARGE" {
		t.Errorf("1.1 KB body over a cap of 1000: %d %s", r.status, r.raw)
	}
	if r := postDoc(t, url, sameNamed("__typename", 50), nil); r.status != 200 || len(r.errors) != 0 {
		t.Errorf("body under the cap: %d %s", r.status, r.raw)
	}
	if n := parses.lookups.Load(); n != 1 {
		t.Errorf("%d parses, want 1", n)
	}
}
