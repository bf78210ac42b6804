package vercel

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/internal/execopts"
	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// Exec implements computemw.Sandbox. The command line runs as
// `sh -c <command>` through POST .../cmd with wait and logs, whose answer
// streams the command's output as ndjson lines: they reach
// ExecOptions.Stdout and Stderr as they arrive. A timeout or a cancelled
// context kills the command (POST .../cmd/{id}/kill).
//
// The API has no way to write to a command's standard input: an in-memory
// ExecOptions.Stdin (one with a Len method, such as *strings.Reader) is
// uploaded and redirected, so the program reads it to its end; any other
// reader (an interactive stream) is not forwarded, and the program reads
// an empty input.
func (s *Sandbox) Exec(ctx context.Context, command string, opts computemw.ExecOptions) (*computemw.Result, error) {
	if err := execopts.Refuse(s.p.Name(), opts); err != nil {
		return nil, err
	}
	if err := s.alive(); err != nil {
		return nil, err
	}
	s.executions.Add(1)
	return s.run(ctx, command, nil, opts)
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// quote quotes s for a POSIX shell.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// lenReader is an in-memory reader whose remaining size is known: its
// content ends, so it can be uploaded whole and the program sees EOF.
type lenReader interface {
	io.Reader
	Len() int
}

// maxLine caps one ndjson line of a command's stream.
const maxLine = 8 << 20

// run runs script with sh -c (args as its positional parameters) and
// follows its stream.
func (s *Sandbox) run(ctx context.Context, script string, args []string, opts computemw.ExecOptions) (*computemw.Result, error) {
	start := time.Now()
	cwd, err := s.resolve(opts.Cwd)
	if err != nil {
		return nil, err
	}
	for k := range opts.Env {
		if !envName.MatchString(k) {
			return nil, computemw.Errorf(computemw.CodeBadRequest, "invalid environment variable name %q", k)
		}
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = s.p.opts.ExecTimeout
	}
	limit := opts.MaxOutputBytes
	if limit <= 0 {
		limit = s.p.opts.MaxOutputBytes
	}
	stdin := "/dev/null"
	if lr, ok := opts.Stdin.(lenReader); ok && lr.Len() > 0 {
		file, err := s.uploadStdin(ctx, lr)
		if err != nil {
			return nil, err
		}
		defer s.removeQuietly(file)
		stdin = file
	}
	env := opts.Env
	if env == nil {
		env = map[string]string{}
	}
	body := runRequest{
		Command: "sh", Args: append([]string{"-c", "exec < " + quote(stdin) + "\n" + script, "sh"}, args...),
		Cwd: cwd, Env: env, Wait: true, Logs: true,
		// Vercel's timeout is a backstop: the provider's own deadline
		// comes first and kills the command.
		Timeout: (timeout + time.Second).Milliseconds(),
	}
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := s.p.do(runCtx, request{op: "runCommand", method: http.MethodPost, path: sessionPath(s.id, "cmd"), body: body})
	resp, err = classify.Check("runCommand", resp, err, 200)
	if err != nil {
		return nil, s.timedOut(ctx, err, timeout)
	}
	defer resp.Body.Close()
	out := &capture{limit: limit, stdout: opts.Stdout, stderr: opts.Stderr}
	cmdID, code, err := s.follow(resp, out)
	res := out.result()
	res.ExecutionTime = time.Since(start)
	if err == nil && runCtx.Err() == nil {
		res.ExitCode = code
		return res, nil
	}
	if err == nil {
		// Vercel's own timeout (the backstop) ended the command.
		err = fmt.Errorf("vercel runCommand: %w", runCtx.Err())
	}
	res.ExitCode = -1
	if cmdID != "" {
		s.kill(cmdID)
	}
	return res, s.timedOut(ctx, err, timeout)
}

// timedOut turns the end of an execution's own deadline into TIMEOUT.
func (s *Sandbox) timedOut(ctx context.Context, err error, timeout time.Duration) error {
	if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return &computemw.Error{Code: computemw.CodeTimeout, Message: fmt.Sprintf("execution timed out after %s", timeout), Err: err}
	}
	return err
}

// follow reads a command's ndjson stream: the command, its log lines, and
// the finished command. It returns the command's ID (once known) and its
// exit code.
func (s *Sandbox) follow(resp *http.Response, out *capture) (string, int, error) {
	const op = "runCommand"
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-ndjson") {
		return "", 0, unexpected(op, fmt.Errorf("content type %q, want application/x-ndjson", ct))
	}
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	budget := 8*out.limit + 1<<20 // output read past the cap before the command is stopped
	cmdID := ""
	for {
		line, err := readLine(r)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("the stream ended before the command finished: %w", io.ErrUnexpectedEOF)
			}
			if errors.Is(err, errLineTooLong) {
				return cmdID, 0, unexpected(op, err)
			}
			return cmdID, 0, classify.Call(op, err)
		}
		if len(line) == 0 {
			continue
		}
		var l logLine
		if err := json.Unmarshal(line, &l); err != nil {
			return cmdID, 0, unexpected(op, err)
		}
		switch {
		case l.Command != nil:
			if cmdID == "" {
				cmdID = l.Command.ID
				continue
			}
			if l.Command.ExitCode != nil {
				return cmdID, *l.Command.ExitCode, nil
			}
		case l.Stream == "stdout" || l.Stream == "stderr":
			var data string
			if err := json.Unmarshal(l.Data, &data); err != nil {
				return cmdID, 0, unexpected(op, err)
			}
			if budget -= int64(len(data)); budget < 0 {
				out.truncated = true
				return cmdID, 0, computemw.Errorf(computemw.CodeResource, "output limit exceeded: the program wrote far more than %d bytes", out.limit)
			}
			if err := out.add(l.Stream, data); err != nil {
				return cmdID, 0, err
			}
		case l.Stream == "error":
			var e struct{ Code, Message string }
			json.Unmarshal(l.Data, &e)
			return cmdID, 0, &computemw.Error{Code: computemw.CodeUnavailable, Message: "vercel reported an error while running the command",
				Err: fmt.Errorf("vercel %s: stream error %s: %s", op, e.Code, e.Message)}
		default:
			return cmdID, 0, unexpected(op, fmt.Errorf("unknown line %.200q", line))
		}
	}
}

var errLineTooLong = errors.New("an ndjson line is over the size limit")

// readLine reads one ndjson line (without its newline), at most maxLine
// bytes.
func readLine(r *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > maxLine {
			return nil, errLineTooLong
		}
		if err == nil {
			return bytes.TrimSpace(buf), nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if len(bytes.TrimSpace(buf)) > 0 && errors.Is(err, io.EOF) {
				return bytes.TrimSpace(buf), nil
			}
			return nil, err
		}
	}
}

// kill ends a command (SIGKILL), on a context of its own: it runs when
// the caller's context may be over.
func (s *Sandbox) kill(cmdID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Killing twice is harmless, so the call is retried.
	_ = s.p.call(vendorhttp.Idempotent(ctx), request{op: "killCommand", method: http.MethodPost,
		path: sessionPath(s.id, "cmd", cmdID, "kill"), body: map[string]int{"signal": 9}}, 1<<20, nil)
}

// uploadStdin writes an in-memory stdin to a hidden file in the working
// directory, so that the program reads it to its end.
func (s *Sandbox) uploadStdin(ctx context.Context, r lenReader) (string, error) {
	if int64(r.Len()) > s.p.opts.MaxStdinBytes {
		return "", computemw.Errorf(computemw.CodePayloadTooLarge, "stdin is over %d bytes", s.p.opts.MaxStdinBytes)
	}
	data, err := io.ReadAll(io.LimitReader(r, s.p.opts.MaxStdinBytes+1))
	if err != nil {
		return "", fmt.Errorf("reading stdin: %w", err)
	}
	file := s.workDir + "/.computemw-stdin-" + randomID()
	if err := s.upload(ctx, file, data); err != nil {
		return "", err
	}
	return file, nil
}

// capture keeps a command's output up to the limit and streams what it
// keeps to the caller's writers.
type capture struct {
	limit          int64
	stdout, stderr io.Writer
	out, err       strings.Builder
	truncated      bool
}

func (c *capture) add(stream, data string) error {
	b, w := &c.out, c.stdout
	if stream == "stderr" {
		b, w = &c.err, c.stderr
	}
	if room := c.limit - int64(b.Len()); int64(len(data)) > room {
		data = data[:max(room, 0)]
		c.truncated = true
	}
	if data == "" {
		return nil
	}
	b.WriteString(data)
	if w != nil {
		if _, err := io.WriteString(w, data); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
	}
	return nil
}

func (c *capture) result() *computemw.Result {
	return &computemw.Result{Stdout: c.out.String(), Stderr: c.err.String(), Truncated: c.truncated}
}

func unexpected(op string, err error) error {
	return &computemw.Error{Code: computemw.CodeUnavailable, Message: "vercel answered something unexpected", Err: fmt.Errorf("vercel %s: %w", op, err)}
}
