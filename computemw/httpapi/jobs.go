package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/jobs"
)

// JobRequest is the body of POST /jobs (and one element of POST
// /batches): what POST /execute takes (language and code) or what POST
// /exec takes (command), plus how the job is graded and reported.
type JobRequest struct {
	Language string            `json:"language,omitempty"`
	Code     string            `json:"code,omitempty"`
	Command  string            `json:"command,omitempty"`
	Cwd      string            `json:"cwd,omitempty"`
	Provider string            `json:"provider,omitempty"`
	Timeout  *float64          `json:"timeout,omitempty"` // milliseconds
	Stdin    string            `json:"stdin,omitempty"`
	Env      map[string]string `json:"env,omitempty"`
	Args     []string          `json:"args,omitempty"`
	Files    []FileSpec        `json:"files,omitempty"`
	// MemoryLimit caps the job's sandbox memory, in MB.
	MemoryLimit *int `json:"memoryLimit,omitempty"`
	// ExpectedOutput grades the job: accepted when the output matches
	// under Compare (trim, exact, tokens), else wrong_answer.
	ExpectedOutput *string `json:"expectedOutput,omitempty"`
	Compare        string  `json:"compare,omitempty"`
	// CallbackURL receives the finished job, signed.
	CallbackURL string `json:"callbackUrl,omitempty"`
	// SandboxID is refused: a job runs in a sandbox of its own.
	SandboxID string `json:"sandboxId,omitempty"`
}

// BatchRequest is the body of POST /batches.
type BatchRequest struct {
	Jobs []JobRequest `json:"jobs"`
}

// JobList is the body of GET /jobs.
type JobList struct {
	Jobs []*jobs.Job `json:"jobs"`
}

// jobService returns the kit's job service, or 404 when none is started.
func (k *API) jobService(ctx context.Context) (*jobs.Service, error) {
	s := jobs.For(k.kit)
	if s == nil {
		return nil, computemw.Errorf(computemw.CodeNotFound, "jobs are not configured")
	}
	if err := k.kit.Authorize(ctx, jobs.OpJobs); err != nil {
		return nil, err
	}
	return s, nil
}

// jobSpec validates and converts a job request.
func (k *API) jobSpec(req *JobRequest) (jobs.Spec, error) {
	if req.SandboxID != "" {
		return jobs.Spec{}, computemw.Errorf(computemw.CodeBadRequest, "a job runs in a sandbox of its own: sandboxId is not allowed")
	}
	var timeout time.Duration
	if req.Timeout != nil {
		t, err := k.timeoutFrom(req.Timeout)
		if err != nil {
			return jobs.Spec{}, err
		}
		timeout = t
	}
	files, err := decodeFiles(req.Files)
	if err != nil {
		return jobs.Spec{}, err
	}
	spec := jobs.Spec{Provider: req.Provider, Language: req.Language, Code: req.Code, Command: req.Command,
		Cwd: req.Cwd, Stdin: req.Stdin, Env: req.Env, Args: req.Args, Timeout: timeout,
		ExpectedOutput: req.ExpectedOutput, Compare: jobs.Compare(req.Compare), CallbackURL: req.CallbackURL}
	for _, f := range files {
		spec.Files = append(spec.Files, jobs.File{Path: f.Path, Data: f.Data})
	}
	if req.MemoryLimit != nil {
		if *req.MemoryLimit <= 0 {
			return jobs.Spec{}, computemw.Errorf(computemw.CodeBadRequest, "field \"memoryLimit\" must be a positive number of MB")
		}
		spec.MemoryMB = *req.MemoryLimit
	}
	return spec, nil
}

// handleSubmitJob serves POST /jobs: 202 with the queued job.
func (k *API) handleSubmitJob(ctx context.Context, r *computemw.Request) (*Response, error) {
	s, err := k.jobService(ctx)
	if err != nil {
		return nil, err
	}
	var req JobRequest
	if err := k.DecodeJSON(r.Body, k.cfg.MaxBodyBytes, &req); err != nil {
		return nil, err
	}
	spec, err := k.jobSpec(&req)
	if err != nil {
		return nil, err
	}
	j, err := s.Submit(ctx, spec)
	if err != nil {
		return nil, err
	}
	return JSON(http.StatusAccepted, j)
}

// handleSubmitBatch serves POST /batches: 202 with the batch's ID and its
// queued jobs, all or none.
func (k *API) handleSubmitBatch(ctx context.Context, r *computemw.Request) (*Response, error) {
	s, err := k.jobService(ctx)
	if err != nil {
		return nil, err
	}
	var req BatchRequest
	if err := k.DecodeJSON(r.Body, k.cfg.MaxBodyBytes, &req); err != nil {
		return nil, err
	}
	specs := make([]jobs.Spec, 0, len(req.Jobs))
	for i := range req.Jobs {
		spec, err := k.jobSpec(&req.Jobs[i])
		if err != nil {
			e := computemw.AsError(err)
			return nil, computemw.Errorf(e.Code, "jobs[%d]: %s", i, e.Message)
		}
		specs = append(specs, spec)
	}
	b, err := s.SubmitBatch(ctx, specs)
	if err != nil {
		return nil, err
	}
	return JSON(http.StatusAccepted, b)
}

// handleGetBatch serves GET /batches/{id}: the batch's jobs, in order.
func (k *API) handleGetBatch(ctx context.Context, r *computemw.Request) (*Response, error) {
	s, err := k.jobService(ctx)
	if err != nil {
		return nil, err
	}
	b, err := s.GetBatch(ctx, r.Params["id"])
	if err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, b)
}

// handleListJobs serves GET /jobs: the caller's jobs, newest first.
func (k *API) handleListJobs(ctx context.Context, _ *computemw.Request) (*Response, error) {
	s, err := k.jobService(ctx)
	if err != nil {
		return nil, err
	}
	list, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []*jobs.Job{}
	}
	return JSON(http.StatusOK, JobList{Jobs: list})
}

// handleGetJob serves GET /jobs/{id}.
func (k *API) handleGetJob(ctx context.Context, r *computemw.Request) (*Response, error) {
	s, err := k.jobService(ctx)
	if err != nil {
		return nil, err
	}
	j, err := s.Get(ctx, r.Params["id"])
	if err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, j)
}

// handleCancelJob serves DELETE /jobs/{id}: the job as it is after.
func (k *API) handleCancelJob(ctx context.Context, r *computemw.Request) (*Response, error) {
	s, err := k.jobService(ctx)
	if err != nil {
		return nil, err
	}
	j, err := s.Cancel(ctx, r.Params["id"])
	if err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, j)
}

// jobRoutes adds the job routes, answered once a jobs.Service is started
// for the kit (404 NOT_FOUND before).
func (k *API) jobRoutes(t *routeTable) {
	t.add(http.MethodPost, "/jobs", jobs.OpJobs, jsonBody(k.handleSubmitJob))
	t.add(http.MethodGet, "/jobs", jobs.OpJobs, k.handleListJobs)
	t.add(http.MethodGet, "/jobs/{id}", jobs.OpJobs, k.handleGetJob)
	t.add(http.MethodDelete, "/jobs/{id}", jobs.OpJobs, k.handleCancelJob)
	t.add(http.MethodPost, "/batches", jobs.OpJobs, jsonBody(k.handleSubmitBatch))
	t.add(http.MethodGet, "/batches/{id}", jobs.OpJobs, k.handleGetBatch)
}
