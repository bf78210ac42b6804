package daytona

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/daytona/internal/toolboxclient"
	"github.com/computemw/kit/providers/internal/execopts"
)

// Exec implements computemw.Sandbox. The command runs asynchronously in a
// toolbox session made for it; its state and logs are polled (with
// backoff, reset whenever output arrives) until it exits, the timeout
// passes or ctx ends. Deleting the session ends the command.
func (s *Sandbox) Exec(ctx context.Context, command string, opts computemw.ExecOptions) (*computemw.Result, error) {
	if err := execopts.Refuse(s.p.Name(), opts); err != nil {
		return nil, err
	}
	if err := s.alive(); err != nil {
		return nil, err
	}
	s.executions.Add(1)
	return s.run(ctx, command, opts)
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

func (s *Sandbox) run(ctx context.Context, command string, opts computemw.ExecOptions) (*computemw.Result, error) {
	start := time.Now()
	cwd, err := s.resolve(opts.Cwd)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(opts.Env))
	for k := range opts.Env {
		if !envName.MatchString(k) {
			return nil, computemw.Errorf(computemw.CodeBadRequest, "invalid environment variable name %q", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = s.p.opts.ExecTimeout
	}
	limit := opts.MaxOutputBytes
	if limit <= 0 {
		limit = s.p.opts.MaxOutputBytes
	}

	var script strings.Builder
	script.WriteString("cd " + quote(cwd) + " && exec env")
	for _, k := range keys {
		script.WriteString(" " + quote(k+"="+opts.Env[k]))
	}
	script.WriteString(" sh -c " + quote(command))

	var pump io.Reader
	if opts.Stdin != nil {
		if lr, ok := opts.Stdin.(lenReader); ok && lr.Len() == 0 {
			script.WriteString(" < /dev/null")
		} else if ok {
			file, err := s.uploadStdin(ctx, lr)
			if err != nil {
				return nil, err
			}
			defer s.removeQuietly(file)
			script.WriteString(" < " + quote(file))
		} else {
			pump = opts.Stdin
		}
	}

	session := "computemw-" + randomID()
	resp, err := s.tb.CreateSession(ctx, toolboxclient.CreateSessionRequest{SessionId: session})
	resp, err = classify.Check("CreateSession", resp, err, 200, 201)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	defer s.deleteSession(session)

	async := true
	resp, err = s.tb.SessionExecuteCommand(ctx, session, toolboxclient.SessionExecuteRequest{
		Command: "sh -c " + quote(script.String()), RunAsync: &async,
	})
	resp, err = classify.Check("SessionExecuteCommand", resp, err, 200, 202)
	if err != nil {
		return nil, err
	}
	var started toolboxclient.SessionExecuteResponse
	if err := classify.Decode("SessionExecuteCommand", resp, 1<<20, &started); err != nil {
		return nil, err
	}

	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if pump != nil {
		go s.pumpStdin(runCtx, session, started.CmdId, pump)
	}
	out := &capture{limit: limit, stdout: opts.Stdout, stderr: opts.Stderr}
	code, err := s.follow(runCtx, session, started.CmdId, out)
	res := out.result()
	res.ExecutionTime = time.Since(start)
	if err == nil {
		res.ExitCode = code
		return res, nil
	}
	// Ending the session ends the command; deleteSession runs on return.
	res.ExitCode = -1
	if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return res, &computemw.Error{Code: computemw.CodeTimeout, Message: fmt.Sprintf("execution timed out after %s", timeout), Err: err}
	}
	return res, err
}

// follow polls a command until it exits and feeds its output to out.
func (s *Sandbox) follow(ctx context.Context, session, cmdID string, out *capture) (int, error) {
	logLimit := 6*out.limit + 1<<20
	wait := s.p.opts.PollInterval
	for {
		resp, err := s.tb.GetSessionCommand(ctx, session, cmdID)
		resp, err = classify.Check("GetSessionCommand", resp, err, 200)
		if err != nil {
			return 0, err
		}
		var cmd toolboxclient.Command
		if err := classify.Decode("GetSessionCommand", resp, 1<<20, &cmd); err != nil {
			return 0, err
		}
		grew, err := s.logs(ctx, session, cmdID, logLimit, out)
		if err != nil {
			return 0, err
		}
		if cmd.ExitCode != nil {
			return *cmd.ExitCode, nil
		}
		if grew {
			wait = s.p.opts.PollInterval
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, s.p.opts.MaxPollInterval)
	}
}

// logs fetches a command's logs so far and passes on what is new.
func (s *Sandbox) logs(ctx context.Context, session, cmdID string, limit int64, out *capture) (bool, error) {
	resp, err := s.tb.GetSessionCommandLogs(ctx, session, cmdID, nil, func(_ context.Context, req *http.Request) error {
		req.Header.Set("Accept", "application/json")
		return nil
	})
	resp, err = classify.Check("GetSessionCommandLogs", resp, err, 200)
	if err != nil {
		return false, err
	}
	stdout, stderr, err := readLogs(resp, limit)
	if err != nil {
		if errors.Is(err, computemw.ErrResource) {
			out.truncated = true
			return false, computemw.Errorf(computemw.CodeResource, "output limit exceeded: the program wrote far more than %d bytes", out.limit)
		}
		return false, err
	}
	return out.update(stdout, stderr)
}

// pumpStdin forwards an interactive stdin to the command as it arrives,
// until the reader ends or the command does. The toolbox cannot signal
// the end of input, so a program that reads to EOF waits for its timeout.
func (s *Sandbox) pumpStdin(ctx context.Context, session, cmdID string, r io.Reader) {
	buf := make([]byte, 16<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			resp, err := s.tb.SendInput(ctx, session, cmdID, toolboxclient.SessionSendInputRequest{Data: string(buf[:n])})
			if resp, err = classify.Check("SendInput", resp, err, 200, 204); err != nil {
				return
			}
			resp.Body.Close()
		}
		if err != nil || ctx.Err() != nil {
			return
		}
	}
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

// deleteSession ends a session and its command, on a context of its own:
// it runs when the caller's context may be over.
func (s *Sandbox) deleteSession(session string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := s.tb.DeleteSession(ctx, session)
	if resp, err = classify.Check("DeleteSession", resp, err, 200, 204); err == nil {
		resp.Body.Close()
	}
}

// capture keeps a command's output up to the limit and streams what it
// keeps to the caller's writers.
type capture struct {
	limit          int64
	stdout, stderr io.Writer
	out, err       strings.Builder
	seenOut        int // bytes of the remote logs already handled
	seenErr        int
	truncated      bool
}

func (c *capture) update(stdout, stderr string) (bool, error) {
	grew := len(stdout) > c.seenOut || len(stderr) > c.seenErr
	if err := c.add(&c.out, c.stdout, stdout, &c.seenOut); err != nil {
		return grew, err
	}
	if err := c.add(&c.err, c.stderr, stderr, &c.seenErr); err != nil {
		return grew, err
	}
	return grew, nil
}

func (c *capture) add(b *strings.Builder, w io.Writer, all string, seen *int) error {
	if len(all) <= *seen {
		return nil
	}
	fresh := all[*seen:]
	*seen = len(all)
	if room := c.limit - int64(b.Len()); int64(len(fresh)) > room {
		fresh = fresh[:max(room, 0)]
		c.truncated = true
	}
	if fresh == "" {
		return nil
	}
	b.WriteString(fresh)
	if w != nil {
		if _, err := io.WriteString(w, fresh); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
	}
	return nil
}

func (c *capture) result() *computemw.Result {
	return &computemw.Result{Stdout: c.out.String(), Stderr: c.err.String(), Truncated: c.truncated}
}
