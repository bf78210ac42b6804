package modalfake

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxOutput caps what the fake keeps of one stream of one command.
const maxOutput = 32 << 20

// sandbox is one fake sandbox: a directory and the commands run in it.
type sandbox struct {
	id, appID, taskID string
	dir               string // on the host
	workdir           string // as the sandbox sees it
	env               map[string]string
	tags              map[string]string
	created           float64
	def               Definition

	mu    sync.Mutex
	execs map[string]*execution
	done  bool
	ended chan struct{} // closed when terminated
	timer *time.Timer
}

func (sb *sandbox) finished() bool {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.done
}

func (sb *sandbox) running() int {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	n := 0
	for _, e := range sb.execs {
		if !e.exited() {
			n++
		}
	}
	return n
}

// terminate ends the sandbox: it kills its commands and waits (a
// little) for them to be gone.
func (sb *sandbox) terminate() {
	sb.mu.Lock()
	if sb.done {
		sb.mu.Unlock()
		return
	}
	sb.done = true
	close(sb.ended)
	if sb.timer != nil {
		sb.timer.Stop()
	}
	var execs []*execution
	for _, e := range sb.execs {
		e.kill()
		if e.cmd != nil {
			execs = append(execs, e)
		}
	}
	sb.mu.Unlock()
	for _, e := range execs {
		select {
		case <-e.done:
		case <-time.After(10 * time.Second):
		}
	}
}

// hostPath maps a path the sandbox sees to the host; ok is false for one
// outside the working directory, which the fake does not model.
func (sb *sandbox) hostPath(p string) (string, bool) {
	if p == sb.workdir {
		return sb.dir, true
	}
	if rest, ok := strings.CutPrefix(p, sb.workdir+"/"); ok {
		return filepath.Join(sb.dir, filepath.FromSlash(rest)), true
	}
	return "", false
}

// sandboxPath is the inverse of hostPath.
func (sb *sandbox) sandboxPath(host string) string {
	rel, err := filepath.Rel(sb.dir, host)
	if err != nil || rel == "." {
		return sb.workdir
	}
	return sb.workdir + "/" + filepath.ToSlash(rel)
}

// stream is one output stream of a command, kept for readers at any
// offset.
type stream struct {
	mu      sync.Mutex
	data    []byte
	closed  bool
	changed chan struct{}
}

func newStream() *stream { return &stream{changed: make(chan struct{})} }

func (st *stream) Write(p []byte) (int, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if room := maxOutput - len(st.data); room > 0 {
		st.data = append(st.data, p[:min(len(p), room)]...)
	}
	close(st.changed)
	st.changed = make(chan struct{})
	return len(p), nil
}

func (st *stream) close() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.closed {
		st.closed = true
		close(st.changed)
		st.changed = make(chan struct{})
	}
}

// read returns the bytes from off (at most n), whether the stream has
// ended there, and a channel closed on the next change.
func (st *stream) read(off, n int) ([]byte, bool, <-chan struct{}) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if off < len(st.data) {
		end := min(len(st.data), off+n)
		return append([]byte(nil), st.data[off:end]...), false, nil
	}
	return nil, st.closed, st.changed
}

// execution is one command.
type execution struct {
	stdout, stderr *stream

	mu      sync.Mutex
	stdin   io.WriteCloser // the process's, or the fs tool's buffer
	written uint64
	eof     bool
	cmd     *exec.Cmd
	done    chan struct{}
	code    int32
	signal  int32 // non-zero when killed by a signal
	timer   *time.Timer
}

func (e *execution) exited() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

func (e *execution) kill() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cmd != nil && e.cmd.Process != nil {
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// writeStdin writes data at offset; a repeated write of bytes already
// written (a retry) is skipped.
func (e *execution) writeStdin(offset uint64, data []byte, eof bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if offset > e.written {
		return errors.New("stdin offset past the bytes written")
	}
	skip := e.written - offset
	if skip < uint64(len(data)) {
		if e.eof {
			return errors.New("stdin is closed")
		}
		if _, err := e.stdin.Write(data[skip:]); err != nil && !errors.Is(err, os.ErrClosed) && !errors.Is(err, syscall.EPIPE) {
			return err
		}
		e.written += uint64(len(data)) - skip
	}
	if eof && !e.eof {
		e.eof = true
		_ = e.stdin.Close()
	}
	return nil
}

// start runs argv as a local process in dir, or the fs tool in-process.
func (s *Server) start(sb *sandbox, argv []string, dir string, env map[string]string, timeout time.Duration) (*execution, error) {
	e := &execution{stdout: newStream(), stderr: newStream(), done: make(chan struct{})}
	if argv[0] == fsToolsPath {
		t := &fsTool{s: s, sb: sb, e: e}
		if len(argv) != 2 {
			s.t.Errorf("modalfake: %s with %d arguments", fsToolsPath, len(argv)-1)
			t.fail("InvalidArgument", "expected one JSON argument")
			return e, nil
		}
		if err := t.parse(argv[1]); err != nil {
			return e, nil
		}
		e.stdin = t
		if !t.needsStdin() {
			e.eof = true
			t.run()
		}
		return e, nil
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + sb.dir, "LANG=C.UTF-8"}
	for k, v := range sb.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = e.stdout, e.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = time.Second // a child that keeps the pipes open
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		// As a shell would: the command is not found.
		e.stderr.Write([]byte(err.Error() + "\n"))
		e.code = 127
		e.stdout.close()
		e.stderr.close()
		close(e.done)
		e.stdin = nopWriteCloser{}
		return e, nil
	}
	e.cmd, e.stdin = cmd, in
	if timeout > 0 {
		e.timer = time.AfterFunc(timeout, e.kill)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := cmd.Wait()
		if e.timer != nil {
			e.timer.Stop()
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				e.signal = int32(ws.Signal())
			} else {
				e.code = int32(ee.ExitCode())
			}
		}
		e.stdout.close()
		e.stderr.close()
		close(e.done)
	}()
	return e, nil
}

// wait blocks until the command exits or ctx ends.
func (e *execution) wait(ctx context.Context) error {
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type nopWriteCloser struct{}

func (nopWriteCloser) Write(p []byte) (int, error) { return len(p), nil }
func (nopWriteCloser) Close() error                { return nil }
