package httpapi

import (
	"context"
	"net/http"

	"github.com/computemw/kit/computemw"
)

// CreateContextRequest is the body of POST /sandboxes/{id}/contexts.
type CreateContextRequest struct {
	Language string            `json:"language"`
	Cwd      string            `json:"cwd,omitempty"`
	Env      map[string]string `json:"env,omitempty"`
}

// ContextExecuteRequest is the body of POST
// /sandboxes/{id}/contexts/{context}/execute.
type ContextExecuteRequest struct {
	Code    string   `json:"code"`
	Timeout *float64 `json:"timeout,omitempty"` // milliseconds
}

// ContextExecutionResponse is the 200 body of an execution in a code
// context: the fields of [ExecutionResponse], the rich results and the
// exception the code raised (null when none).
type ContextExecutionResponse struct {
	ExecutionResponse
	Results []computemw.DisplayData   `json:"results"`
	Error   *computemw.ExecutionError `json:"error"`
}

// NewContextExecutionResponse returns the contract's body of a finished
// execution in a code context.
func NewContextExecutionResponse(r *computemw.ContextResult) ContextExecutionResponse {
	out := ContextExecutionResponse{ExecutionResponse: NewExecutionResponse(&r.Result), Results: r.Results, Error: r.Error}
	if out.Results == nil {
		out.Results = []computemw.DisplayData{}
	}
	return out
}

// contextRoutes adds the code contexts of a session to t.
func (k *API) contextRoutes(t *routeTable) {
	t.add(http.MethodPost, "/sandboxes/{id}/contexts", computemw.OpExecute, jsonBody(k.handleCreateContext))
	t.add(http.MethodGet, "/sandboxes/{id}/contexts", computemw.OpExecute, k.handleListContexts)
	t.add(http.MethodDelete, "/sandboxes/{id}/contexts/{context}", computemw.OpExecute, k.contextOp(computemw.ContextRunner.DeleteContext))
	t.add(http.MethodPost, "/sandboxes/{id}/contexts/{context}/execute", computemw.OpExecute, jsonBody(k.handleContextExecute))
	t.add(http.MethodPost, "/sandboxes/{id}/contexts/{context}/interrupt", computemw.OpExecute, k.contextOp(computemw.ContextRunner.InterruptContext))
	t.add(http.MethodPost, "/sandboxes/{id}/contexts/{context}/restart", computemw.OpExecute, k.contextOp(computemw.ContextRunner.RestartContext))
}

// handleCreateContext serves POST /sandboxes/{id}/contexts.
func (k *API) handleCreateContext(ctx context.Context, r *computemw.Request) (*Response, error) {
	var req CreateContextRequest
	if err := k.DecodeJSON(r.Body, k.cfg.MaxBodyBytes, &req); err != nil {
		return nil, err
	}
	if err := required("language", req.Language); err != nil {
		return nil, err
	}
	cr, release, err := k.contextRunner(ctx, r.Params["id"])
	if err != nil {
		return nil, err
	}
	defer release()
	c, err := cr.CreateContext(ctx, computemw.ContextOptions{Language: req.Language, Cwd: req.Cwd, Env: req.Env})
	if err != nil {
		return nil, err
	}
	return JSON(http.StatusCreated, c)
}

// handleListContexts serves GET /sandboxes/{id}/contexts.
func (k *API) handleListContexts(ctx context.Context, r *computemw.Request) (*Response, error) {
	cr, release, err := k.contextRunner(ctx, r.Params["id"])
	if err != nil {
		return nil, err
	}
	defer release()
	list, err := cr.Contexts(ctx)
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []computemw.CodeContext{}
	}
	return JSON(http.StatusOK, map[string]any{"contexts": list})
}

// handleContextExecute serves POST
// /sandboxes/{id}/contexts/{context}/execute.
func (k *API) handleContextExecute(ctx context.Context, r *computemw.Request) (*Response, error) {
	var req ContextExecuteRequest
	if err := k.DecodeJSON(r.Body, k.cfg.MaxBodyBytes, &req); err != nil {
		return nil, err
	}
	timeout, err := k.timeoutFrom(req.Timeout)
	if err != nil {
		return nil, err
	}
	cr, release, err := k.contextRunner(ctx, r.Params["id"])
	if err != nil {
		return nil, err
	}
	defer release()
	res, err := cr.RunInContext(ctx, r.Params["context"], req.Code, computemw.ExecOptions{Timeout: timeout})
	if err != nil {
		var partial *computemw.Result
		if res != nil {
			partial = &res.Result
		}
		return k.executionResponse(partial, err)
	}
	return JSON(http.StatusOK, NewContextExecutionResponse(res))
}

// contextOp serves an operation on one context that answers 204.
func (k *API) contextOp(op func(computemw.ContextRunner, context.Context, string) error) HandlerFunc {
	return func(ctx context.Context, r *computemw.Request) (*Response, error) {
		cr, release, err := k.contextRunner(ctx, r.Params["id"])
		if err != nil {
			return nil, err
		}
		defer release()
		if err := op(cr, ctx, r.Params["context"]); err != nil {
			return nil, err
		}
		return &Response{Status: http.StatusNoContent, Header: http.Header{}}, nil
	}
}

// contextRunner is the code contexts of one of the caller's sessions, in
// use until release is called. A provider without contexts is
// EXECUTION_ERROR (computemw.Unsupported).
func (k *API) contextRunner(ctx context.Context, id string) (computemw.ContextRunner, func(), error) {
	sb, release, err := k.kit.Sessions().Sandbox(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	cr, ok := sb.(computemw.ContextRunner)
	if !ok {
		release()
		return nil, nil, computemw.Unsupported(sb.Provider(), "code contexts")
	}
	return cr, release, nil
}
