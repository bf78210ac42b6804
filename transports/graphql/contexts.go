package graphql

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/transports/graphql/internal/generated"
)

// contextRunner admits a context field as an execution and returns the
// code contexts of one of the caller's sessions, in use until release.
func (h *Handler) contextRunner(ctx context.Context, sandboxID string) (context.Context, computemw.ContextRunner, func(), error) {
	ctx, err := h.admit(ctx, computemw.OpExecute)
	if err != nil {
		return ctx, nil, nil, fail(ctx, err)
	}
	sb, release, err := h.kit.Sessions().Sandbox(ctx, sandboxID)
	if err != nil {
		return ctx, nil, nil, fail(ctx, err)
	}
	cr, ok := sb.(computemw.ContextRunner)
	if !ok {
		release()
		return ctx, nil, nil, fail(ctx, computemw.Unsupported(sb.Provider(), "code contexts"))
	}
	return ctx, cr, release, nil
}

func codeContext(c computemw.CodeContext) generated.CodeContext {
	return generated.CodeContext{ID: c.ID, Language: c.Language, CreatedAt: c.Created.Format(time.RFC3339Nano)}
}

// Contexts lists a session's code contexts.
func (q *queryResolver) Contexts(ctx context.Context, sandboxID string) ([]generated.CodeContext, error) {
	ctx, cr, release, err := q.h.contextRunner(ctx, sandboxID)
	if err != nil {
		return nil, err
	}
	defer release()
	list, err := cr.Contexts(ctx)
	if err != nil {
		return nil, fail(ctx, err)
	}
	out := make([]generated.CodeContext, 0, len(list))
	for _, c := range list {
		out = append(out, codeContext(c))
	}
	return out, nil
}

// CreateContext starts a code context, as POST /sandboxes/{id}/contexts.
func (m *mutationResolver) CreateContext(ctx context.Context, sandboxID, language string) (*generated.CodeContext, error) {
	ctx, cr, release, err := m.h.contextRunner(ctx, sandboxID)
	if err != nil {
		return nil, err
	}
	defer release()
	c, err := cr.CreateContext(ctx, computemw.ContextOptions{Language: language})
	if err != nil {
		return nil, fail(ctx, err)
	}
	out := codeContext(c)
	return &out, nil
}

// ExecuteInContext runs code in a context, as POST
// /sandboxes/{id}/contexts/{context}/execute.
func (m *mutationResolver) ExecuteInContext(ctx context.Context, sandboxID, contextID, code string, timeout *int) (*generated.ContextExecutionResult, error) {
	var run computemw.Run
	if err := m.h.prepareRun(&run, timeout, nil); err != nil {
		return nil, fail(ctx, err)
	}
	ctx, cr, release, err := m.h.contextRunner(ctx, sandboxID)
	if err != nil {
		return nil, err
	}
	defer release()
	res, err := cr.RunInContext(ctx, contextID, code, computemw.ExecOptions{Timeout: run.Timeout})
	if err != nil {
		var partial *computemw.Result
		if res != nil {
			partial = &res.Result
		}
		return nil, fail(ctx, withPartialOutput(err, partial))
	}
	out := &generated.ContextExecutionResult{
		Output: res.Stdout, Stderr: res.Stderr, ExecutionTime: int(res.ExecutionTime.Milliseconds()),
		Success: res.ExitCode == 0, ExitCode: res.ExitCode, SandboxID: res.SandboxID, Provider: res.Provider,
		Truncated: res.Truncated, Results: make([]generated.DisplayData, 0, len(res.Results)),
	}
	for _, r := range res.Results {
		d := generated.DisplayData{IsMainResult: r.IsMain}
		for _, mt := range slices.Sorted(maps.Keys(r.Data)) {
			d.Data = append(d.Data, generated.MimeData{MimeType: mt, Data: r.Data[mt]})
		}
		out.Results = append(out.Results, d)
	}
	if e := res.Error; e != nil {
		out.Error = &generated.ExecutionError{Name: e.Name, Value: e.Value, Traceback: e.Traceback}
	}
	return out, nil
}

// InterruptContext interrupts a context's running execution.
func (m *mutationResolver) InterruptContext(ctx context.Context, sandboxID, contextID string) (*bool, error) {
	return m.h.contextOp(ctx, sandboxID, contextID, computemw.ContextRunner.InterruptContext)
}

// RestartContext restarts a context's interpreter.
func (m *mutationResolver) RestartContext(ctx context.Context, sandboxID, contextID string) (*bool, error) {
	return m.h.contextOp(ctx, sandboxID, contextID, computemw.ContextRunner.RestartContext)
}

// DeleteContext ends a context.
func (m *mutationResolver) DeleteContext(ctx context.Context, sandboxID, contextID string) (*bool, error) {
	return m.h.contextOp(ctx, sandboxID, contextID, computemw.ContextRunner.DeleteContext)
}

func (h *Handler) contextOp(ctx context.Context, sandboxID, contextID string, op func(computemw.ContextRunner, context.Context, string) error) (*bool, error) {
	ctx, cr, release, err := h.contextRunner(ctx, sandboxID)
	if err != nil {
		return nil, err
	}
	defer release()
	if err := op(cr, ctx, contextID); err != nil {
		return nil, fail(ctx, err)
	}
	return &done, nil
}
