package cloudflare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/internal/textstream"
)

var errExecTimeout = errors.New("execution timed out")

// execBody is ExecRequest.
type execBody struct {
	Argv      []string `json:"argv"`
	TimeoutMS int64    `json:"timeout_ms,omitempty"`
	Cwd       string   `json:"cwd,omitempty"`
}

// wrapper is the script every command runs under (sh -c wrapper computemw
// ENVFILE STDIN COMMAND NAME=VALUE...): it reads the sandbox's env file
// when there is one, takes its standard input from an uploaded file (and
// removes the file, which stays open), exports the execution's variables,
// then runs the command with sh -c. The bridge's exec has no environment
// and no standard input of its own.
const wrapper = `if [ -r "$1" ]; then . "$1" || exit 126; fi
if [ -n "$2" ]; then exec <"$2" || exit 126; rm -f -- "$2"; fi
c=$3; shift 3
for kv do export "$kv" || exit 126; done
exec /bin/sh -c "$c"`

// Exec runs command with /bin/sh -c in the sandbox, in opts.Cwd under
// /workspace, through the bridge's exec stream: stdout and stderr reach
// opts.Stdout and opts.Stderr as the bridge sends them. CreateOptions.Env
// and opts.Env are exported first.
//
// The bridge has no standard input channel. opts.Stdin that is an
// in-memory reader (one with a Len method, such as *strings.Reader or
// *bytes.Reader), at most Options.MaxStdinBytes of it, is uploaded to a
// file of the workspace before the command starts and fed to it from
// there, so a program reading it sees its end. Any other reader (input
// that arrives while the program runs, as the kit's WebSocket stdin
// messages) is not read: the program's standard input is empty.
//
// The timeout is sent to the bridge, which ends the command then; the
// partial result comes back with an error of class TIMEOUT. The bridge has
// no route to stop a command earlier: one whose caller leaves, or whose
// output writer fails, runs on in the sandbox until its timeout or
// Destroy. Exec is never retried.
func (s *Sandbox) Exec(ctx context.Context, command string, opts computemw.ExecOptions) (*computemw.Result, error) {
	return s.run(ctx, command, opts)
}

// RunCode writes code to a hidden file of the workspace and runs it with
// the command line Options.Languages gives for language (opts.Args
// appended, each quoted), then removes the file. An unknown language is
// an error of class EXECUTION_ERROR.
func (s *Sandbox) RunCode(ctx context.Context, language, code string, opts computemw.ExecOptions) (*computemw.Result, error) {
	line, ok := s.p.opts.Languages[language]
	if !ok {
		return nil, &computemw.Error{Code: computemw.CodeExecution, Message: fmt.Sprintf("unsupported language %q", language),
			Details: map[string]any{"languages": s.p.Languages()}}
	}
	if err := s.alive(); err != nil {
		return nil, err
	}
	rel, err := resolve(opts.Cwd)
	if err != nil {
		return nil, err
	}
	name := hidden + "/run-" + newTag() + languageExt(language)
	if err := s.putFile(ctx, "write code", name, []byte(code)); err != nil {
		return nil, err
	}
	file := shellQuote(fromDir(rel, name))
	cmd := strings.ReplaceAll(line, "{file}", file)
	for _, a := range opts.Args {
		cmd += " " + shellQuote(a)
	}
	cmd += "; s=$?; rm -f -- " + file + "; exit $s"
	return s.run(ctx, cmd, opts)
}

func languageExt(language string) string {
	switch language {
	case "python":
		return ".py"
	case "javascript":
		return ".js"
	case "typescript":
		return ".ts"
	case "bash", "sh":
		return ".sh"
	}
	return ""
}

// fromDir is the path of name (relative to the workspace) as seen from the
// workspace directory dir ("" for the workspace itself).
func fromDir(dir, name string) string {
	up := ""
	if dir != "" {
		up = strings.Repeat("../", strings.Count(dir, "/")+1)
	}
	return "./" + up + name
}

// run runs one command and follows the bridge's event stream to its end.
func (s *Sandbox) run(ctx context.Context, command string, opts computemw.ExecOptions) (*computemw.Result, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	rel, err := resolve(opts.Cwd)
	if err != nil {
		return nil, err
	}
	if err := computemw.ValidateEnv(opts.Env); err != nil {
		return nil, err
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = s.p.opts.ExecTimeout
	}
	if s.maxExec > 0 {
		timeout = min(timeout, s.maxExec)
	}
	limit := opts.MaxOutputBytes
	if limit <= 0 {
		limit = s.p.opts.MaxOutputBytes
	}
	s.executions.Add(1)
	start := time.Now()
	out := textstream.NewCapped(limit)
	errOut := textstream.NewCapped(limit)
	res := func() *computemw.Result {
		r := &computemw.Result{ExecutionTime: time.Since(start)}
		r.Stdout, r.Truncated = out.Result()
		var t bool
		r.Stderr, t = errOut.Result()
		r.Truncated = r.Truncated || t
		return r
	}

	stdin := ""
	if in, ok := opts.Stdin.(interface{ Len() int }); ok && in.Len() > 0 {
		data, err := io.ReadAll(io.LimitReader(opts.Stdin, s.p.opts.MaxStdinBytes+1))
		if err != nil {
			return nil, computemw.Errorf(computemw.CodeBadRequest, "reading standard input: %v", err)
		}
		if int64(len(data)) > s.p.opts.MaxStdinBytes {
			return nil, computemw.Errorf(computemw.CodePayloadTooLarge, "standard input is larger than %d bytes", s.p.opts.MaxStdinBytes)
		}
		name := hidden + "/stdin-" + newTag()
		if err := s.putFile(ctx, "write standard input", name, data); err != nil {
			return nil, err
		}
		stdin = fromDir(rel, name)
	}
	argv := []string{"/bin/sh", "-c", wrapper, "computemw", fromDir(rel, envFile), stdin, command}
	for _, k := range sortedKeys(opts.Env) {
		argv = append(argv, k+"="+opts.Env[k])
	}

	runCtx, cancel := context.WithTimeoutCause(ctx, timeout, errExecTimeout)
	defer cancel()
	stopCtx, stop := context.WithCancelCause(runCtx)
	defer stop(nil)
	stdout := textstream.Tee(out, opts.Stdout, stop)
	stderr := textstream.Tee(errOut, opts.Stderr, stop)

	code, err := s.stream(stopCtx, "exec", execBody{Argv: argv, TimeoutMS: timeout.Milliseconds(), Cwd: workspacePath(rel)}, stdout, stderr)
	if err == nil {
		r := res()
		r.ExitCode = code
		if cause := context.Cause(stopCtx); cause != nil && !errors.Is(cause, context.Canceled) {
			return r, fmt.Errorf("cloudflare: exec: %w", cause)
		}
		return r, nil
	}
	switch {
	case errors.Is(context.Cause(runCtx), errExecTimeout) || isTimeoutEvent(err):
		return res(), &computemw.Error{Code: computemw.CodeTimeout, Message: "execution timed out", Err: err}
	case runCtx.Err() != nil:
		return res(), fmt.Errorf("cloudflare: exec: %w", runCtx.Err())
	}
	if cause := context.Cause(stopCtx); cause != nil && !errors.Is(cause, context.Canceled) {
		return res(), fmt.Errorf("cloudflare: exec: %w", cause)
	}
	return res(), err
}

// workspacePath is the absolute path of a workspace-relative one.
func workspacePath(rel string) string {
	if rel == "" {
		return Workspace
	}
	return Workspace + "/" + rel
}

// EventError is an error event of the bridge's exec stream: the command
// could not run, or the sandbox lost it.
type EventError struct {
	// Message and Code are the event's error and code ("exec_error",
	// "exec_transport_error").
	Message, Code string
}

// Error implements error.
func (e *EventError) Error() string {
	return fmt.Sprintf("cloudflare: exec stream: %s: %s", e.Code, e.Message)
}

// isTimeoutEvent reports an error event that says the command timed out.
func isTimeoutEvent(err error) bool {
	var ee *EventError
	if !errors.As(err, &ee) {
		return false
	}
	m := strings.ToLower(ee.Message)
	return strings.Contains(m, "timeout") || strings.Contains(m, "timed out")
}

// stream posts an exec and reads its events until exit or error.
func (s *Sandbox) stream(ctx context.Context, op string, body execBody, stdout, stderr io.Writer) (int, error) {
	var rc io.ReadCloser
	err := s.p.do(ctx, call{op: op, method: http.MethodPost, path: sandboxPath(s.id) + "/exec",
		json: body, want: []int{http.StatusOK}, keep: &rc})
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	code, err := readEvents(rc, stdout, stderr)
	if err != nil {
		var ee *EventError
		if errors.As(err, &ee) {
			if ee.Code == "exec_error" && !isTimeoutEvent(err) {
				return 0, &computemw.Error{Code: computemw.CodeExecution, Message: "provider cloudflare could not run the command",
					Details: truncate(ee.Message, 500), Err: err}
			}
			if !isTimeoutEvent(err) {
				return 0, &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider cloudflare lost the command", Err: err}
			}
			return 0, err
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, &computemw.Error{Code: computemw.CodeUnavailable, Message: "provider cloudflare lost the command",
			Err: fmt.Errorf("cloudflare: %s stream: %w", op, err)}
	}
	return code, nil
}

// capture runs a provider's own command (no env, no stdin) in the
// workspace and returns its output, at most max bytes of stdout.
func (s *Sandbox) capture(ctx context.Context, op, script string, max int64, args ...string) (stdout []byte, code int, stderr string, err error) {
	o := textstream.NewCapped(max)
	e := textstream.NewCapped(8 << 10)
	argv := append([]string{"/bin/sh", "-c", script, "computemw"}, args...)
	code, err = s.stream(ctx, op, execBody{Argv: argv, TimeoutMS: s.p.opts.ExecTimeout.Milliseconds(), Cwd: Workspace}, o, e)
	so, trunc := o.Result()
	se, _ := e.Result()
	if err == nil && trunc {
		err = computemw.Errorf(computemw.CodeResource, "%s: the answer is larger than %d bytes", op, max)
	}
	return []byte(so), code, se, err
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
