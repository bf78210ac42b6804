package cloudflarefake

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/computemw/kit/providers/internal/fakekit"
)

// safeArg is what the bridge's shellQuote leaves unquoted.
var safeArg = regexp.MustCompile(`^[A-Za-z0-9@%+=:,./-]+$`)

// shellQuote quotes one argv token as the bridge does (helpers.ts): safe
// tokens as they are, others in ANSI-C $'...' quoting.
func shellQuote(arg string) string {
	if safeArg.MatchString(arg) {
		return arg
	}
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return "$'" + r.Replace(arg) + "'"
}

// exec serves execCommand: argv joined with the bridge's quoting, run with
// bash -c in the working directory, its output streamed as events.
func (s *Server) exec(q *request) {
	var body struct {
		Argv      []string `json:"argv"`
		TimeoutMS *int64   `json:"timeout_ms"`
		Cwd       *string  `json:"cwd"`
	}
	if !q.decode(&body) {
		return
	}
	if len(body.Argv) == 0 {
		writeErr(q.w, http.StatusBadRequest, "argv must be a non-empty array", "invalid_request")
		return
	}
	ses, ok := q.session(q.r.Header.Get("Session-Id"))
	if !ok {
		writeErr(q.w, http.StatusBadRequest, "Invalid session ID format", "invalid_request")
		return
	}
	dir, env := q.sb.workspace, map[string]string{}
	if ses != nil {
		q.sb.mu.Lock()
		dir, env = ses.cwd, ses.env
		q.sb.mu.Unlock()
	}
	if body.Cwd != nil {
		p, ok := q.sb.hostPath(*body.Cwd)
		if !ok {
			writeErr(q.w, http.StatusForbidden, "cwd must resolve to a location within /workspace", "invalid_request")
			return
		}
		dir = p
	}
	quoted := make([]string, len(body.Argv))
	for i, a := range body.Argv {
		quoted[i] = shellQuote(a)
	}

	q.w.Header().Set("Content-Type", "text/event-stream")
	q.w.Header().Set("Cache-Control", "no-cache")
	q.w.WriteHeader(http.StatusOK)
	out := &eventWriter{w: q.w, fault: q.fault}
	out.flush()

	cmd := exec.Command("bash", "-c", strings.Join(quoted, " "))
	cmd.Dir = dir
	cmd.Env = q.sb.environ(env)
	cmd.Stdout = out.stream("stdout")
	cmd.Stderr = out.stream("stderr")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 2 * time.Second
	c := &command{cmd: cmd, done: make(chan struct{})}
	q.sb.mu.Lock()
	if q.sb.dead {
		q.sb.mu.Unlock()
		out.end("error", map[string]string{"error": "exec failed: the sandbox was destroyed", "code": "exec_transport_error"})
		return
	}
	if err := cmd.Start(); err != nil {
		q.sb.mu.Unlock()
		out.end("error", map[string]string{"error": "Failed to execute command: " + err.Error(), "code": "exec_error"})
		return
	}
	q.sb.cmds[c] = struct{}{}
	q.sb.mu.Unlock()

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var timeout <-chan time.Time
	if body.TimeoutMS != nil && *body.TimeoutMS > 0 {
		t := time.NewTimer(time.Duration(*body.TimeoutMS) * time.Millisecond)
		defer t.Stop()
		timeout = t.C
	}
	// A client that leaves does not stop the command: the bridge's stream
	// goes on into nothing until the command ends or times out.
	var err error
	timedOut := false
	select {
	case err = <-waited:
	case <-timeout:
		timedOut = true
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = <-waited
	}
	q.sb.mu.Lock()
	delete(q.sb.cmds, c)
	q.sb.mu.Unlock()
	close(c.done)
	if timedOut {
		out.end("error", map[string]string{"error": fmt.Sprintf("Command timeout after %dms", *body.TimeoutMS), "code": "exec_error"})
		return
	}
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	case err != nil && !errors.Is(err, exec.ErrWaitDelay):
		out.end("error", map[string]string{"error": err.Error(), "code": "exec_error"})
		return
	}
	out.end("exit", map[string]int{"exit_code": code})
}

// eventWriter writes an exec's events to the client, one at a time.
type eventWriter struct {
	w     http.ResponseWriter
	fault *Fault

	mu     sync.Mutex
	events int
	gone   bool // the client left, or the stream was reset
}

// stream is the writer of a command's stdout or stderr.
func (e *eventWriter) stream(name string) *streamWriter { return &streamWriter{e: e, name: name} }

type streamWriter struct {
	e    *eventWriter
	name string
}

// Write sends p as events (in chunks of Fault.EventBytes on a slow
// stream). It never fails: the command's output is drained whether or not
// anyone reads it.
func (sw *streamWriter) Write(p []byte) (int, error) {
	e := sw.e
	size := len(p)
	var delay time.Duration
	if f := e.fault; f != nil && f.EventDelay > 0 {
		delay, size = f.EventDelay, max(f.EventBytes, 1)
	}
	for off := 0; off < len(p); off += size {
		chunk := p[off:min(off+size, len(p))]
		if delay > 0 {
			time.Sleep(delay)
		}
		e.send(sw.name, base64.StdEncoding.EncodeToString(chunk))
	}
	return len(p), nil
}

func (e *eventWriter) send(event, data string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gone {
		return
	}
	if f := e.fault; f != nil && f.ResetAfterEvents > 0 && e.events >= f.ResetAfterEvents {
		e.gone = true
		fakekit.HangUp(e.w)
		return
	}
	e.events++
	lines := strings.Split(data, "\n")
	var b strings.Builder
	b.WriteString("event: " + event + "\n")
	for _, l := range lines {
		b.WriteString("data: " + l + "\n")
	}
	b.WriteString("\n")
	if _, err := e.w.Write([]byte(b.String())); err != nil {
		e.gone = true
		return
	}
	e.flushLocked()
}

// end sends the stream's last event.
func (e *eventWriter) end(event string, v any) {
	data, _ := json.Marshal(v)
	e.send(event, string(data))
}

func (e *eventWriter) flush() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.flushLocked()
}

func (e *eventWriter) flushLocked() {
	if f, ok := e.w.(http.Flusher); ok {
		f.Flush()
	}
}
