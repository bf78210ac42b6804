package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/computemw/kit/computemw"
)

// podExec runs programs in a sandbox's pod through the API server's
// pods/exec (client-go's remotecommand, over WebSocket), for images
// without sandboxd. Every program runs in the working directory, under
// `timeout -s KILL` (closing the exec stream does not stop a program),
// with `env` for its variables: the image needs sh, timeout, env and, for
// files, cat, stat, mkdir and rm.
type podExec struct {
	cfg       *rest.Config
	ns, pod   string
	container string
	workDir   string
}

// execURL is the pods/exec URL of argv.
func (e *podExec) execURL(argv []string, stdin, tty bool) string {
	q := url.Values{}
	for _, a := range argv {
		q.Add("command", a)
	}
	if e.container != "" {
		q.Set("container", e.container)
	}
	q.Set("stdout", "true")
	if tty {
		q.Set("tty", "true")
	} else {
		q.Set("stderr", "true")
	}
	if stdin {
		q.Set("stdin", "true")
	}
	return strings.TrimSuffix(e.cfg.Host, "/") + "/api/v1/namespaces/" + url.PathEscape(e.ns) +
		"/pods/" + url.PathEscape(e.pod) + "/exec?" + q.Encode()
}

// wrap runs argv in dir (relative to the working directory) with env,
// killed after timeout.
func (e *podExec) wrap(argv []string, dir string, env map[string]string, timeout time.Duration) []string {
	secs := int(timeout / time.Second)
	if timeout%time.Second != 0 || secs == 0 {
		secs++
	}
	full := e.workDir
	if dir != "" && dir != "." {
		full += "/" + dir
	}
	out := []string{"sh", "-c", `cd -- "$1" || exit 125; shift; exec "$@"`, "sh", full,
		"timeout", "-s", "KILL", strconv.Itoa(secs), "env"}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	return append(out, argv...)
}

// stream runs argv and returns its exit code; err is a failure to run it.
func (e *podExec) stream(ctx context.Context, argv []string, o remotecommand.StreamOptions) (int, error) {
	ex, err := remotecommand.NewWebSocketExecutor(e.cfg, "GET", e.execURL(argv, o.Stdin != nil, o.Tty))
	if err != nil {
		return -1, fmt.Errorf("kubernetes: pods/exec: %w", err)
	}
	err = ex.StreamWithContext(ctx, o)
	var ee utilexec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		return ee.ExitStatus(), nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		return -1, &computemw.Error{Code: computemw.CodeUnavailable, Message: "pods/exec failed", Err: fmt.Errorf("kubernetes: pods/exec %s: %w", e.pod, err)}
	}
	return 0, nil
}

// lockedCapture is a capture two streams write to at once.
type lockedCapture struct {
	mu sync.Mutex
	c  *capture
}

type captureWriter struct {
	lc     *lockedCapture
	stderr bool
}

func (w captureWriter) Write(p []byte) (int, error) {
	w.lc.mu.Lock()
	defer w.lc.mu.Unlock()
	b, dst := &w.lc.c.out, w.lc.c.stdout
	if w.stderr {
		b, dst = &w.lc.c.err, w.lc.c.stderr
	}
	if err := w.lc.c.add(b, dst, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// runPod is run through pods/exec.
func (s *Sandbox) runPod(ctx context.Context, argv []string, opts computemw.ExecOptions, timeout time.Duration, limit int64) (*computemw.Result, error) {
	dir := ""
	if opts.Cwd != "" {
		d, err := s.resolve(opts.Cwd)
		if err != nil {
			return nil, err
		}
		dir = d
	}
	lc := &lockedCapture{c: &capture{limit: limit, stdout: opts.Stdout, stderr: opts.Stderr}}
	start := time.Now()
	// The program is killed in the pod at timeout; the stream gets a few
	// seconds more to carry its end.
	rctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
	defer cancel()
	stdin := opts.Stdin
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	code, err := s.pe.stream(rctx, s.pe.wrap(argv, dir, opts.Env, timeout),
		remotecommand.StreamOptions{Stdin: stdin, Stdout: captureWriter{lc, false}, Stderr: captureWriter{lc, true}})
	lc.mu.Lock()
	res := lc.c.result()
	lc.mu.Unlock()
	res.ExecutionTime = time.Since(start)
	res.ExitCode = code
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return res, &computemw.Error{Code: computemw.CodeTimeout, Message: fmt.Sprintf("execution timed out after %s", timeout)}
		}
		return res, err
	}
	if code == 137 && res.ExecutionTime >= timeout {
		res.ExitCode = -1
		return res, &computemw.Error{Code: computemw.CodeTimeout, Message: fmt.Sprintf("execution timed out after %s", timeout)}
	}
	if code == 125 && opts.Cwd != "" {
		return res, computemw.Errorf(computemw.CodeBadRequest, "working directory %q does not exist", opts.Cwd)
	}
	return res, nil
}

// podOutput runs a short program (a file operation) and returns its
// stdout, or an error classed by its stderr.
func (s *Sandbox) podOutput(ctx context.Context, op string, argv []string, stdin io.Reader, limit int64) ([]byte, error) {
	res, err := s.runPod(ctx, argv, computemw.ExecOptions{Stdin: stdin}, time.Minute, limit)
	if err != nil {
		return nil, err
	}
	if int64(len(res.Stdout)) >= limit && res.Truncated {
		return nil, computemw.Errorf(computemw.CodePayloadTooLarge, "%s: larger than %d bytes", op, limit)
	}
	if res.ExitCode != 0 {
		switch msg := res.Stderr; {
		case strings.Contains(msg, "No such file"), strings.Contains(msg, "can't open"), strings.Contains(msg, "can't stat"):
			return nil, computemw.Errorf(computemw.CodeNotFound, "%s: not found", op)
		case strings.Contains(msg, "Is a directory"):
			return nil, computemw.Errorf(computemw.CodeBadRequest, "%s: is a directory", op)
		case strings.Contains(msg, "Not a directory"):
			return nil, computemw.Errorf(computemw.CodeBadRequest, "%s: not a directory", op)
		default:
			return nil, computemw.Errorf(computemw.CodeBadRequest, "%s failed: %s", op, strings.TrimSpace(msg))
		}
	}
	return []byte(res.Stdout), nil
}
