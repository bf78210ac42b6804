package computemcp

import (
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/computemw/kit/computemw"
)

// runCodeArgs are run_code's arguments.
type runCodeArgs struct {
	Language string            `json:"language" jsonschema:"the language: python, javascript, bash ..."`
	Code     string            `json:"code" jsonschema:"the program"`
	Timeout  int64             `json:"timeout,omitempty" jsonschema:"wall-clock limit in milliseconds (default: the server's)"`
	Stdin    string            `json:"stdin,omitempty" jsonschema:"the program's standard input"`
	Env      map[string]string `json:"env,omitempty" jsonschema:"environment variables to add"`
}

func (a *runCodeArgs) check(o *Options) error {
	switch {
	case strings.TrimSpace(a.Language) == "":
		return computemw.Errorf(computemw.CodeBadRequest, "argument %q is required", "language")
	case strings.TrimSpace(a.Code) == "":
		return computemw.Errorf(computemw.CodeBadRequest, "argument %q is required", "code")
	case len(a.Code) > o.MaxCodeBytes:
		return computemw.Errorf(computemw.CodePayloadTooLarge, "code exceeds %d bytes", o.MaxCodeBytes)
	case len(a.Stdin) > o.MaxCodeBytes:
		return computemw.Errorf(computemw.CodePayloadTooLarge, "stdin exceeds %d bytes", o.MaxCodeBytes)
	}
	return checkTimeout(a.Timeout)
}

// runCommandArgs are run_command's arguments.
type runCommandArgs struct {
	Command string            `json:"command" jsonschema:"the command line, run by sh -c"`
	Cwd     string            `json:"cwd,omitempty" jsonschema:"working directory, relative to the workspace"`
	Timeout int64             `json:"timeout,omitempty" jsonschema:"wall-clock limit in milliseconds (default: the server's)"`
	Stdin   string            `json:"stdin,omitempty" jsonschema:"the command's standard input"`
	Env     map[string]string `json:"env,omitempty" jsonschema:"environment variables to add"`
}

func (a *runCommandArgs) check(o *Options) error {
	switch {
	case strings.TrimSpace(a.Command) == "":
		return computemw.Errorf(computemw.CodeBadRequest, "argument %q is required", "command")
	case len(a.Stdin) > o.MaxCodeBytes:
		return computemw.Errorf(computemw.CodePayloadTooLarge, "stdin exceeds %d bytes", o.MaxCodeBytes)
	}
	return checkTimeout(a.Timeout)
}

// checkTimeout refuses a timeout that is negative or too large to be a
// duration (the kit then holds it to Config.MaxTimeout).
func checkTimeout(ms int64) error {
	if ms < 0 || ms > math.MaxInt64/int64(time.Millisecond) {
		return computemw.Errorf(computemw.CodeBadRequest, "argument %q must be a positive number of milliseconds", "timeout")
	}
	return nil
}

// executionResult is what run_code and run_command answer.
type executionResult struct {
	Success       bool   `json:"success"`
	Stdout        string `json:"stdout"`
	Stderr        string `json:"stderr"`
	ExitCode      int    `json:"exitCode"`
	ExecutionTime int64  `json:"executionTime"` // ms
	Truncated     bool   `json:"truncated"`
	SandboxID     string `json:"sandboxId"`
	Provider      string `json:"provider"`
}

func (s *Server) runCode(c *call, in *runCodeArgs) (*mcp.CallToolResult, error) {
	return s.execute(c, computemw.Run{Language: in.Language, Code: in.Code, Env: in.Env,
		Timeout: time.Duration(in.Timeout) * time.Millisecond}, in.Stdin)
}

func (s *Server) runCommand(c *call, in *runCommandArgs) (*mcp.CallToolResult, error) {
	return s.execute(c, computemw.Run{Command: in.Command, Cwd: in.Cwd, Env: in.Env,
		Timeout: time.Duration(in.Timeout) * time.Millisecond}, in.Stdin)
}

// execute runs run through the kit's governed path, in the session's
// sandbox when one is open, streaming its output as progress
// notifications when the call asked for them.
func (s *Server) execute(c *call, run computemw.Run, stdin string) (*mcp.CallToolResult, error) {
	run.SandboxID = c.sandbox()
	if stdin != "" {
		run.Stdin = strings.NewReader(stdin)
	}
	if p := newProgress(c); p != nil {
		run.Stdout, run.Stderr = p.stream("stdout"), p.stream("stderr")
	}
	res, err := s.kit.Execute(c.ctx, run)
	if err != nil {
		return nil, err
	}
	out := executionResult{Success: res.ExitCode == 0, Stdout: res.Stdout, Stderr: res.Stderr, ExitCode: res.ExitCode,
		ExecutionTime: res.ExecutionTime.Milliseconds(), Truncated: res.Truncated, SandboxID: res.SandboxID,
		Provider: res.Provider}
	return &mcp.CallToolResult{Content: executionContent(res), StructuredContent: out}, nil
}

// executionContent is the text an agent reads of a run: its output, its
// error output and its exit code when not 0.
func executionContent(res *computemw.Result) []mcp.Content {
	content := []mcp.Content{&mcp.TextContent{Text: res.Stdout}}
	if res.Stderr != "" {
		content = append(content, &mcp.TextContent{Text: "stderr:\n" + res.Stderr})
	}
	if res.ExitCode != 0 {
		content = append(content, &mcp.TextContent{Text: "exit code " + strconv.Itoa(res.ExitCode)})
	}
	if res.Truncated {
		content = append(content, &mcp.TextContent{Text: "(output truncated at the server's limit)"})
	}
	return content
}

// maxProgressNotifications bounds the progress notifications of one call:
// past it the output still comes whole in the result, but is no longer
// streamed, so that a program printing many short lines cannot make the
// server send without bound.
const maxProgressNotifications = 1000

// progress sends a run's output as it comes, as progress notifications
// of the call's progress token: the message is the chunk, the progress
// the bytes sent so far, and _meta.stream says stdout or stderr.
type progress struct {
	c     *call
	token any

	mu   sync.Mutex
	sent int64
	n    int
}

// newProgress returns the progress of c, or nil when the call carries no
// progress token.
func newProgress(c *call) *progress {
	if c.req.Session == nil || c.req.Params == nil {
		return nil
	}
	token := c.req.Params.GetProgressToken()
	if token == nil {
		return nil
	}
	return &progress{c: c, token: token}
}

func (p *progress) stream(name string) io.Writer { return progressWriter{p, name} }

type progressWriter struct {
	p    *progress
	name string
}

func (w progressWriter) Write(b []byte) (int, error) {
	p := w.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n >= maxProgressNotifications || len(b) == 0 {
		return len(b), nil
	}
	p.n++
	p.sent += int64(len(b))
	// A client that is gone does not stop the program: its error is
	// left, and the run ends at its time limit or when the call is
	// cancelled.
	_ = p.c.req.Session.NotifyProgress(p.c.ctx, &mcp.ProgressNotificationParams{
		ProgressToken: p.token, Progress: float64(p.sent), Message: string(b),
		Meta: mcp.Meta{"stream": w.name},
	})
	return len(b), nil
}
