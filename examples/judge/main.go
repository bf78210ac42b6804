// Command judge is a small contest judge on computemw's jobs: a problem
// with test cases, submissions graded against them in a batch of jobs
// (one per test case), verdicts in Judge0's vocabulary. Jobs wait in an
// in-memory queue, or in PostgreSQL through River when DATABASE_URL is
// set (several judge instances then share the work).
//
//	go run ./examples/judge
//	curl -s localhost:8080/problems/sum
//	curl -s localhost:8080/problems/sum/submissions -H 'Content-Type: application/json' \
//	  -d '{"language":"python","code":"a, b = map(int, input().split())\nprint(a + b)"}'
//	curl -s localhost:8080/problems/sum/submissions/<id>
//
// The route group is at /api, with the job routes: POST /api/jobs,
// GET /api/jobs/{id}, POST /api/batches, GET /api/batches/{id} ...
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/jobs"
	"github.com/computemw/kit/jobs/riverqueue"
	"github.com/computemw/kit/providers/local"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Problem is a task with its test cases.
type Problem struct {
	Title     string `json:"title"`
	Statement string `json:"statement"`
	// TimeLimit and MemoryLimit (MB) hold for each test.
	TimeLimit   time.Duration `json:"-"`
	MemoryLimit int           `json:"memoryLimitMB"`
	Tests       []Test        `json:"-"`
}

// Test is one input and the output it expects.
type Test struct{ Input, Output string }

var problems = map[string]*Problem{
	"sum": {
		Title:     "A + B",
		Statement: "Read two integers a and b on one line; print a + b.",
		// A time limit generous beside what a correct answer takes, so that
		// a program over the memory limit reaches it before the clock
		// ends its run, even on a busy machine.
		TimeLimit: 5 * time.Second, MemoryLimit: 64,
		Tests: []Test{{"1 2\n", "3\n"}, {"40 2\n", "42\n"}, {"-7 7\n", "0\n"}, {"1000000 1\n", "1000001\n"}},
	},
}

func main() {
	if err := run(); err != nil {
		slog.Error("judge", "error", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	prov, err := local.FromEnv()
	if err != nil {
		return err
	}
	kit, err := computemw.New(computemw.Config{
		Providers: []computemw.Provider{prov},
		Metrics:   prommetrics.New(prommetrics.Options{}),
		// No authentication here: answer only the names this server is
		// reached by. Add auth, roles and quotas before exposing it (see
		// examples/secure): a submit is then charged to its caller.
		AllowedHosts: []string{"127.0.0.1", "localhost", "::1"},
	})
	if err != nil {
		return err
	}
	queue, closeQueue, err := newQueue(ctx)
	if err != nil {
		return errors.Join(err, kit.Close(ctx))
	}
	defer closeQueue()
	judge, err := jobs.New(ctx, kit, jobs.Config{Queue: queue, MaxQueuedPerCaller: 1000})
	if err != nil {
		return errors.Join(err, kit.Close(ctx))
	}

	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit)
	mux.Handle("GET /problems/{name}", computehttp.Handle(kit, func(w http.ResponseWriter, r *http.Request) error {
		p, err := problem(r)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, p)
	}))
	mux.Handle("POST /problems/{name}/submissions", computehttp.Handle(kit, func(w http.ResponseWriter, r *http.Request) error {
		p, err := problem(r)
		if err != nil {
			return err
		}
		var sub struct {
			Language string `json:"language"`
			Code     string `json:"code"`
		}
		if err := httpapi.DecodeJSON(r.Body, 1<<20, &sub); err != nil {
			return err
		}
		// The submit is governed like any route: admitted, then each
		// job authorized (and charged) by the service.
		ctx, err := computehttp.Admit(w, r, kit, jobs.OpJobs)
		if err != nil {
			return err
		}
		specs := make([]jobs.Spec, len(p.Tests))
		for i, tc := range p.Tests {
			specs[i] = jobs.Spec{Language: sub.Language, Code: sub.Code, Stdin: tc.Input, ExpectedOutput: &tc.Output,
				Timeout: p.TimeLimit, MemoryMB: p.MemoryLimit}
		}
		b, err := judge.SubmitBatch(ctx, specs)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusAccepted, map[string]any{"id": b.ID, "tests": len(b.Jobs)})
	}))
	mux.Handle("GET /problems/{name}/submissions/{id}", computehttp.Handle(kit, func(w http.ResponseWriter, r *http.Request) error {
		ctx, err := computehttp.Admit(w, r, kit, jobs.OpJobs)
		if err != nil {
			return err
		}
		b, err := judge.GetBatch(ctx, r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, grade(b))
	}))

	addr := os.Getenv("ADDR")
	if addr == "" {
		port := os.Getenv("PORT")
		if port == "" {
			port = "8080"
		}
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	slog.Info("judge ready", "url", "http://"+ln.Addr().String())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	return errors.Join(err, judge.Close(sctx), kit.Close(sctx))
}

// newQueue is River on PostgreSQL when DATABASE_URL is set, else the
// memory queue.
func newQueue(ctx context.Context) (jobs.Queue, func(), error) {
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		return jobs.NewMemoryQueue(jobs.MemoryOptions{Workers: 4}), func() {}, nil
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	if err := riverqueue.Migrate(ctx, pool, ""); err != nil {
		pool.Close()
		return nil, nil, err
	}
	q, err := riverqueue.New(riverqueue.Config{Pool: pool, Workers: 4})
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return q, pool.Close, nil
}

func problem(r *http.Request) (*Problem, error) {
	p, ok := problems[r.PathValue("name")]
	if !ok {
		return nil, computemw.Errorf(computemw.CodeNotFound, "no problem %q", r.PathValue("name"))
	}
	return p, nil
}

// Report is a graded submission: the verdict of each test, and the
// submission's — the first test's that is not accepted, else accepted —
// once every test is judged.
type Report struct {
	Status  string   `json:"status"` // judging or judged
	Verdict string   `json:"verdict,omitempty"`
	Tests   []string `json:"tests"`
	Details string   `json:"details,omitempty"`
}

func grade(b *jobs.Batch) Report {
	rep := Report{Status: "judged", Tests: make([]string, len(b.Jobs))}
	for i, j := range b.Jobs {
		switch {
		case !j.State.Final():
			rep.Status, rep.Tests[i] = "judging", string(j.State)
		case j.Outcome == nil:
			rep.Tests[i] = string(j.State)
		default:
			rep.Tests[i] = string(j.Verdict)
		}
		if rep.Verdict == "" && j.State.Final() && rep.Tests[i] != string(jobs.VerdictAccepted) {
			rep.Verdict = rep.Tests[i]
			if j.Outcome != nil && j.Result != nil {
				rep.Details = strings.TrimSpace(j.Result.CompileOutput + j.Result.Stderr)
			}
		}
	}
	if rep.Status == "judging" {
		rep.Verdict, rep.Details = "", ""
	} else if rep.Verdict == "" {
		rep.Verdict = string(jobs.VerdictAccepted)
	}
	return rep
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}
