package computemcp

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/computemw/kit/computemw"
)

// createContextArgs are create_context's arguments.
type createContextArgs struct {
	Language string            `json:"language" jsonschema:"the interpreter's language: python or javascript"`
	Cwd      string            `json:"cwd,omitempty" jsonschema:"working directory, relative to the workspace"`
	Env      map[string]string `json:"env,omitempty" jsonschema:"environment variables to add"`
}

func (a *createContextArgs) check(*Options) error {
	if strings.TrimSpace(a.Language) == "" {
		return computemw.Errorf(computemw.CodeBadRequest, "argument %q is required", "language")
	}
	return nil
}

// runInContextArgs are run_in_context's arguments.
type runInContextArgs struct {
	ContextID string `json:"contextId" jsonschema:"the context, from create_context"`
	Code      string `json:"code" jsonschema:"the code to run in the context's interpreter"`
	Timeout   int64  `json:"timeout,omitempty" jsonschema:"wall-clock limit in milliseconds (default: the server's)"`
}

func (a *runInContextArgs) check(o *Options) error {
	switch {
	case strings.TrimSpace(a.ContextID) == "":
		return computemw.Errorf(computemw.CodeBadRequest, "argument %q is required", "contextId")
	case strings.TrimSpace(a.Code) == "":
		return computemw.Errorf(computemw.CodeBadRequest, "argument %q is required", "code")
	case len(a.Code) > o.MaxCodeBytes:
		return computemw.Errorf(computemw.CodePayloadTooLarge, "code exceeds %d bytes", o.MaxCodeBytes)
	}
	return checkTimeout(a.Timeout)
}

// contextArgs are the arguments of the tools on one context.
type contextArgs struct {
	ContextID string `json:"contextId" jsonschema:"the context, from create_context"`
}

func (a *contextArgs) check(*Options) error {
	if strings.TrimSpace(a.ContextID) == "" {
		return computemw.Errorf(computemw.CodeBadRequest, "argument %q is required", "contextId")
	}
	return nil
}

// listContextsArgs are list_contexts' (none).
type listContextsArgs struct{}

func (a *listContextsArgs) check(*Options) error { return nil }

// contextExecution is what run_in_context answers: run_code's fields and
// the rich results as MIME bundles.
type contextExecution struct {
	executionResult
	Results []computemw.DisplayData `json:"results"`
}

// withContexts calls fn with the code contexts of the session's sandbox:
// its governed sandbox, so that every operation is authorized, limited,
// measured and logged by the kit. A provider without contexts is the
// stable EXECUTION_ERROR "not supported".
func (s *Server) withContexts(c *call, fn func(computemw.ContextRunner) (*mcp.CallToolResult, error)) (*mcp.CallToolResult, error) {
	id, err := sessionSandbox(c)
	if err != nil {
		return nil, err
	}
	sb, release, err := s.kit.Sessions().Sandbox(c.ctx, id)
	if err != nil {
		return nil, err
	}
	defer release()
	cr, ok := sb.(computemw.ContextRunner)
	if !ok {
		return nil, computemw.Unsupported(sb.Provider(), "code contexts")
	}
	return fn(cr)
}

func (s *Server) createContext(c *call, in *createContextArgs) (*mcp.CallToolResult, error) {
	return s.withContexts(c, func(cr computemw.ContextRunner) (*mcp.CallToolResult, error) {
		cc, err := cr.CreateContext(c.ctx, computemw.ContextOptions{Language: in.Language, Cwd: in.Cwd, Env: in.Env})
		if err != nil {
			return nil, err
		}
		return result(cc, fmt.Sprintf("context %s (%s) created", cc.ID, cc.Language)), nil
	})
}

func (s *Server) listContexts(c *call, _ *listContextsArgs) (*mcp.CallToolResult, error) {
	return s.withContexts(c, func(cr computemw.ContextRunner) (*mcp.CallToolResult, error) {
		list, err := cr.Contexts(c.ctx)
		if err != nil {
			return nil, err
		}
		if list == nil {
			list = []computemw.CodeContext{}
		}
		var b strings.Builder
		for _, cc := range list {
			fmt.Fprintf(&b, "%s\t%s\n", cc.ID, cc.Language)
		}
		return result(map[string]any{"contexts": list}, b.String()), nil
	})
}

// contextOp is a tool that does op on one context and says done.
func (s *Server) contextOp(op func(computemw.ContextRunner, *call, string) error, done string) func(*call, *contextArgs) (*mcp.CallToolResult, error) {
	return func(c *call, in *contextArgs) (*mcp.CallToolResult, error) {
		return s.withContexts(c, func(cr computemw.ContextRunner) (*mcp.CallToolResult, error) {
			if err := op(cr, c, in.ContextID); err != nil {
				return nil, err
			}
			return result(map[string]any{"success": true, "contextId": in.ContextID}, "context "+in.ContextID+" "+done), nil
		})
	}
}

// runInContext runs code in a context, its output streamed as progress
// notifications like run_code's. Code that raises answers a tool error
// with code EXECUTION_ERROR, the exception and its traceback.
func (s *Server) runInContext(c *call, in *runInContextArgs) (*mcp.CallToolResult, error) {
	return s.withContexts(c, func(cr computemw.ContextRunner) (*mcp.CallToolResult, error) {
		opts := computemw.ExecOptions{Timeout: time.Duration(in.Timeout) * time.Millisecond}
		if p := newProgress(c); p != nil {
			opts.Stdout, opts.Stderr = p.stream("stdout"), p.stream("stderr")
		}
		res, err := cr.RunInContext(c.ctx, in.ContextID, in.Code, opts)
		if err != nil {
			return nil, err
		}
		if res.Error != nil {
			return s.contextError(c, res), nil
		}
		out := contextExecution{executionResult: executionResult{Success: res.ExitCode == 0, Stdout: res.Stdout,
			Stderr: res.Stderr, ExitCode: res.ExitCode, ExecutionTime: res.ExecutionTime.Milliseconds(),
			Truncated: res.Truncated, SandboxID: res.SandboxID, Provider: res.Provider}, Results: res.Results}
		if out.Results == nil {
			out.Results = []computemw.DisplayData{}
		}
		content := executionContent(&res.Result)
		if res.Stdout == "" && len(res.Results) > 0 {
			content = content[1:] // no empty text before the results
		}
		return &mcp.CallToolResult{Content: append(content, displayContent(res.Results)...), StructuredContent: out}, nil
	})
}

// contextError is the tool error of an execution whose code raised: the
// kit's EXECUTION_ERROR with the exception, its traceback and what the
// code printed before.
func (s *Server) contextError(c *call, res *computemw.ContextResult) *mcp.CallToolResult {
	e := res.Error
	te := s.toolError(c.ctx, &computemw.Error{Code: computemw.CodeExecution, Message: e.Name + ": " + e.Value,
		Details: map[string]any{"name": e.Name, "value": e.Value, "traceback": e.Traceback,
			"stdout": res.Stdout, "stderr": res.Stderr, "results": res.Results}})
	if e.Traceback != "" {
		te.Content = append(te.Content, &mcp.TextContent{Text: e.Traceback})
	}
	if res.Stdout != "" {
		te.Content = append(te.Content, &mcp.TextContent{Text: "stdout:\n" + res.Stdout})
	}
	if res.Stderr != "" {
		te.Content = append(te.Content, &mcp.TextContent{Text: "stderr:\n" + res.Stderr})
	}
	return te
}

// displayContent is the MCP content of rich results, one block per
// result: an image for image/png, else text (text/plain, then
// application/json, then text/html).
func displayContent(results []computemw.DisplayData) []mcp.Content {
	var out []mcp.Content
	for _, r := range results {
		if b64, ok := r.Data["image/png"]; ok {
			if raw, err := base64.StdEncoding.DecodeString(b64); err == nil {
				out = append(out, &mcp.ImageContent{Data: raw, MIMEType: "image/png"})
				continue
			}
		}
		for _, mime := range []string{"text/plain", "application/json", "text/html"} {
			if v, ok := r.Data[mime]; ok {
				out = append(out, &mcp.TextContent{Text: v})
				break
			}
		}
	}
	return out
}

// addContextTools registers the tools of code contexts.
func (s *Server) addContextTools(closed, readOnly *mcp.ToolAnnotations) {
	addTool(s, &mcp.Tool{Name: ToolCreateContext, Title: "Create a code context", Annotations: closed,
		Description: "Start an interpreter (python or javascript) in the session's sandbox (open one with " +
			"open_sandbox first) that keeps its state between run_in_context calls, as a notebook does: " +
			"variables, imports and functions survive. Returns its contextId."},
		computemw.OpExecute, s.createContext)
	addTool(s, &mcp.Tool{Name: ToolRunInContext, Title: "Run code in a context", Annotations: closed,
		Description: "Run code in a code context and return what it printed and its rich results (the value " +
			"of the last expression, charts as images, HTML, JSON). Output is streamed as progress " +
			"notifications like run_code's; an exception is a tool error with its traceback."},
		computemw.OpExecute, s.runInContext)
	addTool(s, &mcp.Tool{Name: ToolInterruptContext, Title: "Interrupt a context", Annotations: closed,
		Description: "Interrupt the code running in a context, as Ctrl-C would; the context keeps its state."},
		computemw.OpExecute, s.contextOp(func(cr computemw.ContextRunner, c *call, id string) error {
			return cr.InterruptContext(c.ctx, id)
		}, "interrupted"))
	addTool(s, &mcp.Tool{Name: ToolRestartContext, Title: "Restart a context", Annotations: closed,
		Description: "Replace a context's interpreter with a fresh one: its state is lost, its contextId kept."},
		computemw.OpExecute, s.contextOp(func(cr computemw.ContextRunner, c *call, id string) error {
			return cr.RestartContext(c.ctx, id)
		}, "restarted"))
	addTool(s, &mcp.Tool{Name: ToolDeleteContext, Title: "Delete a context", Annotations: closed,
		Description: "End a context and its interpreter."},
		computemw.OpExecute, s.contextOp(func(cr computemw.ContextRunner, c *call, id string) error {
			return cr.DeleteContext(c.ctx, id)
		}, "deleted"))
	addTool(s, &mcp.Tool{Name: ToolListContexts, Title: "List contexts", Annotations: readOnly,
		Description: "List the code contexts of the session's sandbox."},
		computemw.OpExecute, s.listContexts)
}
