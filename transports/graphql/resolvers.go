package graphql

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/transports/graphql/internal/generated"
)

// resolver is the root of the schema's resolvers.
type resolver struct{ h *Handler }

func (r *resolver) Mutation() generated.MutationResolver         { return &mutationResolver{r.h} }
func (r *resolver) Query() generated.QueryResolver               { return &queryResolver{r.h} }
func (r *resolver) Subscription() generated.SubscriptionResolver { return &subscriptionResolver{r.h} }

type mutationResolver struct{ h *Handler }

// ExecuteCode runs a program, as POST /execute does.
func (m *mutationResolver) ExecuteCode(ctx context.Context, code, language string, provider, sandboxID *string, timeout *int, stdin *string) (*generated.ExecutionResult, error) {
	run := computemw.Run{Language: language, Code: code, Provider: str(provider), SandboxID: str(sandboxID)}
	return m.h.execute(ctx, computemw.OpExecute, run, timeout, stdin)
}

// RunCommand runs a command line, as POST /exec does.
func (m *mutationResolver) RunCommand(ctx context.Context, command string, cwd, provider, sandboxID *string, timeout *int, stdin *string) (*generated.ExecutionResult, error) {
	if strings.TrimSpace(command) == "" {
		return nil, computemw.Errorf(computemw.CodeBadRequest, "argument %q is required", "command")
	}
	run := computemw.Run{Command: command, Cwd: str(cwd), Provider: str(provider), SandboxID: str(sandboxID)}
	return m.h.execute(ctx, computemw.OpExec, run, timeout, stdin)
}

// execute admits the field as a request of op and runs it through the
// kit's governed execution.
func (h *Handler) execute(ctx context.Context, op computemw.Op, run computemw.Run, timeout *int, stdin *string) (*generated.ExecutionResult, error) {
	ctx, err := h.admit(ctx, op)
	if err != nil {
		return nil, fail(ctx, err)
	}
	if err := h.prepareRun(&run, timeout, stdin); err != nil {
		return nil, fail(ctx, err)
	}
	res, err := h.kit.Execute(ctx, run)
	if err != nil {
		return nil, fail(ctx, withPartialOutput(err, res))
	}
	if err := h.strict(res); err != nil {
		return nil, fail(ctx, err)
	}
	return executionResult(res), nil
}

// prepareRun sets a run's time limit (milliseconds, positive; the kit
// holds it to Config.MaxTimeout and the caller's role) and its stdin.
func (h *Handler) prepareRun(run *computemw.Run, timeout *int, stdin *string) error {
	if timeout != nil {
		if *timeout <= 0 {
			return computemw.Errorf(computemw.CodeBadRequest, "argument \"timeout\" must be a positive number of milliseconds")
		}
		if max := h.cfg.MaxTimeout; time.Duration(*timeout)*time.Millisecond > max {
			return computemw.Errorf(computemw.CodeBadRequest, "argument \"timeout\" exceeds the maximum of %d ms", max.Milliseconds())
		}
		run.Timeout = time.Duration(*timeout) * time.Millisecond
	}
	run.Stdin = strings.NewReader(str(stdin))
	return nil
}

// strict turns a non-zero exit into EXECUTION_ERROR when the kit is
// configured so (Config.StrictExitCode), as the HTTP routes do.
func (h *Handler) strict(res *computemw.Result) error {
	if h.cfg.StrictExitCode && res.ExitCode != 0 {
		return &computemw.Error{Code: computemw.CodeExecution, Message: fmt.Sprintf("program exited with code %d", res.ExitCode), Details: res.Stderr}
	}
	return nil
}

// withPartialOutput gives a TIMEOUT or RESOURCE_ERROR the output printed
// before the program was stopped, as the HTTP routes' details do.
func withPartialOutput(err error, res *computemw.Result) error {
	e := computemw.AsError(err)
	_, partial := e.Details.(*computemw.Result) // the kit's own partial Result
	if res == nil || (e.Details != nil && !partial) || (e.Code != computemw.CodeTimeout && e.Code != computemw.CodeResource) {
		return err
	}
	c := *e
	c.Details = httpapi.PartialOutput{Output: res.Stdout, Stderr: res.Stderr, Truncated: res.Truncated}
	return &c
}

func executionResult(res *computemw.Result) *generated.ExecutionResult {
	return &generated.ExecutionResult{
		Output: res.Stdout, Stderr: res.Stderr, ExecutionTime: int(res.ExecutionTime.Milliseconds()),
		Success: res.ExitCode == 0, ExitCode: res.ExitCode, SandboxID: res.SandboxID, Provider: res.Provider,
		Truncated: res.Truncated,
	}
}

// WriteFile writes a UTF-8 file, as POST /files {action:"write"} does.
func (m *mutationResolver) WriteFile(ctx context.Context, path, content string, sandboxID *string) (*bool, error) {
	if _, err := m.h.fileOp(ctx, computemw.FileOp{Action: "write", Path: path, Data: []byte(content), SandboxID: str(sandboxID)}); err != nil {
		return nil, err
	}
	return &done, nil
}

// done is the answer of a mutation that succeeded.
var done = true

// CreateSession creates a session sandbox owned by the caller.
func (m *mutationResolver) CreateSession(ctx context.Context, provider, language *string, ttl, wait *int) (*generated.Session, error) {
	ctx, err := m.h.admit(ctx, computemw.OpSessions)
	if err != nil {
		return nil, fail(ctx, err)
	}
	opts := computemw.SessionOptions{Provider: str(provider), Template: str(language)}
	if ttl != nil {
		if *ttl <= 0 {
			return nil, fail(ctx, computemw.Errorf(computemw.CodeBadRequest, "argument \"ttl\" must be a positive number of milliseconds"))
		}
		opts.TTL = time.Duration(*ttl) * time.Millisecond
	}
	if wait != nil {
		if limit := max(0, m.h.cfg.QueueTimeout.Milliseconds()); *wait < 0 || int64(*wait) > limit {
			return nil, fail(ctx, computemw.Errorf(computemw.CodeBadRequest, "argument \"wait\" must be between 0 and %d ms", limit))
		}
		opts.Wait = time.Duration(*wait) * time.Millisecond
	}
	info, err := m.h.kit.Sessions().Create(ctx, opts)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &generated.Session{SandboxID: info.SandboxID, Provider: info.Provider, Status: info.Status,
		CreatedAt: info.CreatedAt.Format(time.RFC3339Nano), ExpiresAt: info.ExpiresAt.Format(time.RFC3339Nano)}, nil
}

// DestroySession destroys one of the caller's sessions.
func (m *mutationResolver) DestroySession(ctx context.Context, sandboxID string) (*bool, error) {
	ctx, err := m.h.admit(ctx, computemw.OpSessions)
	if err != nil {
		return nil, fail(ctx, err)
	}
	if err := m.h.kit.Sessions().Destroy(ctx, sandboxID); err != nil {
		return nil, fail(ctx, err)
	}
	return &done, nil
}

type queryResolver struct{ h *Handler }

// ListFiles lists a directory, as POST /files {action:"list"} does.
func (q *queryResolver) ListFiles(ctx context.Context, path string, sandboxID *string) ([]generated.FileInfo, error) {
	list, err := q.h.fileOp(ctx, computemw.FileOp{Action: "list", Path: path, SandboxID: str(sandboxID)})
	if err != nil {
		return nil, err
	}
	out := make([]generated.FileInfo, 0, len(list.Files))
	for _, f := range list.Files {
		fi := generated.FileInfo{Name: f.Name, Path: f.Path, Type: f.Type, Size: int(f.Size)}
		if !f.Modified.IsZero() {
			m := f.Modified.UTC().Format(time.RFC3339Nano)
			fi.Modified = &m
		}
		out = append(out, fi)
	}
	return out, nil
}

// ReadFile reads a file, as POST /files {action:"read"} does.
func (q *queryResolver) ReadFile(ctx context.Context, path string, sandboxID *string) (*generated.FileContent, error) {
	fc, err := q.h.fileOp(ctx, computemw.FileOp{Action: "read", Path: path, SandboxID: str(sandboxID)})
	if err != nil {
		return nil, err
	}
	content, encoding := fileContent(fc.Content)
	return &generated.FileContent{Path: path, Content: content, Encoding: encoding, Size: len(fc.Content)}, nil
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
