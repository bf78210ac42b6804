package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/internal/exampletest"
)

// TestJudge grades a batch of submissions to the sample problem, one of
// each verdict, on the starter as built.
func TestJudge(t *testing.T) {
	srv := exampletest.Start(t, "github.com/computemw/kit/examples/judge")
	ctx := context.Background()
	if r := computemwtest.Do(t, ctx, http.MethodGet, srv.URL+"/problems/sum", "", nil); r.Status != 200 || r.Body["title"] != "A + B" {
		t.Fatalf("problem: %d %s", r.Status, r.Raw)
	}
	subs := []struct{ language, code, want string }{
		{"python", "a, b = map(int, input().split())\nprint(a + b)", "accepted"},
		{"python", "a, b = map(int, input().split())\nprint(a * b)", "wrong_answer"},
		{"python", "while True:\n    pass", "time_limit_exceeded"},
		{"python", "x = b'a' * (1 << 30)", "memory_limit_exceeded"},
		{"python", "raise ValueError('no')", "runtime_error"},
		{"c", "int main( {", "compilation_error"},
	}
	ids := make([]string, len(subs))
	for i, s := range subs {
		r := computemwtest.Do(t, ctx, http.MethodPost, srv.URL+"/problems/sum/submissions", fmt.Sprintf(`{"language":%q,"code":%q}`, s.language, s.code), nil)
		if r.Status != http.StatusAccepted {
			t.Fatalf("submit %d: %d %s", i, r.Status, r.Raw)
		}
		ids[i], _ = r.Body["id"].(string)
	}
	for i, s := range subs {
		deadline := time.Now().Add(time.Minute)
		for {
			r := computemwtest.Do(t, ctx, http.MethodGet, srv.URL+"/problems/sum/submissions/"+ids[i], "", nil)
			if r.Status != http.StatusOK {
				t.Fatalf("report %d: %d %s", i, r.Status, r.Raw)
			}
			if r.Body["status"] == "judged" {
				if r.Body["verdict"] != s.want {
					t.Errorf("%s: %s, want %s", s.code, r.Raw, s.want)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("submission %d not judged after a minute: %s", i, r.Raw)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	srv.Stop(t)
}
