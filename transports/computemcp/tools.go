package computemcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/computemw/kit/computemw"
)

// The tools' names.
const (
	ToolRunCode      = "run_code"
	ToolRunCommand   = "run_command"
	ToolReadFile     = "read_file"
	ToolWriteFile    = "write_file"
	ToolListFiles    = "list_files"
	ToolOpenSandbox  = "open_sandbox"
	ToolCloseSandbox = "close_sandbox"

	ToolCreateContext    = "create_context"
	ToolRunInContext     = "run_in_context"
	ToolInterruptContext = "interrupt_context"
	ToolRestartContext   = "restart_context"
	ToolDeleteContext    = "delete_context"
	ToolListContexts     = "list_contexts"
)

// arguments is what every tool's arguments type implements: check
// refuses what is invalid before the call is admitted, so that a bad call
// costs no rate and no quota.
type arguments interface {
	check(o *Options) error
}

// call is one tool call, admitted: ctx carries the caller for the kit's
// governed entries.
type call struct {
	ctx  context.Context
	req  *mcp.CallToolRequest
	sess *session // nil outside a session
}

// sandbox is the ID of the session's open sandbox, or "".
func (c *call) sandbox() string {
	if c.sess == nil {
		return ""
	}
	return c.sess.sandbox()
}

// addTool registers a tool whose arguments decode into In (unknown
// arguments refused) and that is admitted as op before fn runs.
func addTool[In any, P interface {
	*In
	arguments
}](s *Server, t *mcp.Tool, op computemw.Op, fn func(c *call, in *In) (*mcp.CallToolResult, error)) {
	schema, err := jsonschema.For[In](nil)
	if err != nil {
		panic(fmt.Sprintf("computemcp: schema of %s: %v", t.Name, err))
	}
	t.InputSchema = schema
	s.mcp.AddTool(t, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(s.stopped, cancel)()
		var in In
		if err := decodeArgs(req.Params.Arguments, &in); err != nil {
			return s.toolError(ctx, err), nil
		}
		if err := P(&in).check(&s.opts); err != nil {
			return s.toolError(ctx, err), nil
		}
		var h map[string][]string
		if req.Extra != nil {
			h = req.Extra.Header
		}
		r, owner := callerRequest(h)
		actx, err := s.kit.Admit(ctx, op, r)
		if err != nil {
			return s.toolError(actx, err), nil
		}
		c := &call{ctx: actx, req: req}
		if req.Session != nil {
			c.sess = s.book.get(req.Session.ID())
		}
		if c.sess != nil {
			if c.sess.owner != owner {
				return s.toolError(actx, computemw.Errorf(computemw.CodeNotFound, "no such MCP session")), nil
			}
			defer context.AfterFunc(c.sess.stopped, cancel)()
		}
		res, err := fn(c, &in)
		if err != nil {
			return s.toolError(actx, err), nil
		}
		return res, nil
	})
}

// decodeArgs decodes a call's arguments into v, refusing unknown ones.
func decodeArgs(raw json.RawMessage, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		raw = json.RawMessage("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := err.Error()
		var typ *json.UnmarshalTypeError
		switch {
		case strings.HasPrefix(msg, "json: unknown field "):
			msg = "unknown argument " + strings.TrimPrefix(msg, "json: unknown field ")
		case errors.As(err, &typ):
			msg = fmt.Sprintf("argument %q must be of type %s", typ.Field, typ.Type)
		default:
			msg = "invalid arguments: " + msg
		}
		return &computemw.Error{Code: computemw.CodeBadRequest, Message: msg}
	}
	if _, err := dec.Token(); err != io.EOF {
		return computemw.Errorf(computemw.CodeBadRequest, "invalid arguments: data after the object")
	}
	return nil
}

// toolError is the MCP tool error (isError) of err: its text is
// "CODE: message", and its structured content the kit's error body
// (error, code, details, requestId). An internal error's cause is logged,
// not sent.
func (s *Server) toolError(ctx context.Context, err error) *mcp.CallToolResult {
	e := computemw.AsError(err)
	body := map[string]any{"code": e.Code, "error": e.Message}
	if e.Code == computemw.CodeInternal {
		s.log.Error("computemcp: tool call failed", "error", err, "requestId", computemw.RequestIDFrom(ctx))
		body["error"] = computemw.ErrInternal.Message
	} else if e.Details != nil {
		body["details"] = e.Details
	}
	if e.RetryAfter > 0 {
		body["retryAfter"] = int(e.RetryAfter.Seconds() + 0.999)
	}
	if id := computemw.RequestIDFrom(ctx); id != "" {
		body["requestId"] = id
	}
	return &mcp.CallToolResult{
		IsError:           true,
		Content:           []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("%s: %s", e.Code, body["error"])}},
		StructuredContent: body,
	}
}

// result is a tool's answer: v as structured content, and text as its
// text content.
func result(v any, text string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}, StructuredContent: v}
}

func boolPtr(b bool) *bool { return &b }

// addTools registers every tool of the server.
func (s *Server) addTools() {
	closed := &mcp.ToolAnnotations{OpenWorldHint: boolPtr(false)}
	readOnly := &mcp.ToolAnnotations{OpenWorldHint: boolPtr(false), ReadOnlyHint: true}
	addTool(s, &mcp.Tool{Name: ToolRunCode, Title: "Run code", Annotations: closed,
		Description: "Run a program in a sandbox (the session's, when open_sandbox opened one, else a fresh " +
			"one destroyed after the run) and return its output and exit code. While it runs, its output is " +
			"sent as progress notifications when the call carries a progress token."},
		computemw.OpExecute, s.runCode)
	addTool(s, &mcp.Tool{Name: ToolRunCommand, Title: "Run a command", Annotations: closed,
		Description: "Run a shell command line (sh -c) in a sandbox (the session's, when open_sandbox opened " +
			"one, else a fresh one) and return its output and exit code, streamed as progress notifications " +
			"like run_code's."},
		computemw.OpExec, s.runCommand)
	addTool(s, &mcp.Tool{Name: ToolReadFile, Title: "Read a file", Annotations: readOnly,
		Description: "Read a file of the session's sandbox (open one with open_sandbox first)."},
		computemw.OpFiles, s.readFile)
	addTool(s, &mcp.Tool{Name: ToolWriteFile, Title: "Write a file", Annotations: closed,
		Description: "Write a file into the session's sandbox (open one with open_sandbox first), creating " +
			"its directories."},
		computemw.OpFiles, s.writeFile)
	addTool(s, &mcp.Tool{Name: ToolListFiles, Title: "List files", Annotations: readOnly,
		Description: "List a directory of the session's sandbox (open one with open_sandbox first); " +
			"the working directory when path is empty."},
		computemw.OpFiles, s.listFiles)
	addTool(s, &mcp.Tool{Name: ToolOpenSandbox, Title: "Open a sandbox", Annotations: closed,
		Description: "Open a sandbox that lives as long as this MCP session: run_code, run_command and the " +
			"file tools then use it, so files and installed packages persist between calls. If one is open " +
			"already, it is returned."},
		computemw.OpSessions, s.openSandbox)
	addTool(s, &mcp.Tool{Name: ToolCloseSandbox, Title: "Close the sandbox", Annotations: closed,
		Description: "Destroy the session's sandbox, with its files and processes."},
		computemw.OpSessions, s.closeSandbox)
	s.addContextTools(closed, readOnly)
}
