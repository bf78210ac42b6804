package e2bfake

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/computemw/kit/providers/e2b/internal/envd/process"
)

// proc is one fake process.
type proc struct {
	sb     *sandbox
	pid    uint32
	tag    string
	cmd    *exec.Cmd
	stdin  io.WriteCloser // nil when stdin was not asked for
	ptmx   *os.File       // set for a pseudo-terminal
	events chan *process.ProcessEvent
	done   chan struct{}

	inMu sync.Mutex // orders writes to stdin
}

// startProc starts a process; events carries its output and end.
func (sb *sandbox) startProc(req *process.StartRequest) (*proc, error) {
	cfg := req.GetProcess()
	cwd := home
	if cfg.Cwd != nil {
		cwd = cfg.GetCwd()
	}
	dir, err := sb.hostPath(cwd)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("working directory %q does not exist", cwd)
	}
	cmd := exec.Command(cfg.GetCmd(), cfg.GetArgs()...)
	cmd.Dir = dir
	cmd.Env = sb.environ(cfg.GetEnvs())
	p := &proc{sb: sb, tag: req.GetTag(), cmd: cmd, events: make(chan *process.ProcessEvent, 64), done: make(chan struct{})}

	var outputs []io.Reader
	var kinds []string
	if req.Pty != nil {
		size := req.GetPty().GetSize()
		ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: uint16(size.GetCols()), Rows: uint16(size.GetRows())})
		if err != nil {
			return nil, err
		}
		if p.ptmx, err = pollable(ptmx); err != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
			return nil, err
		}
		outputs, kinds = []io.Reader{p.ptmx}, []string{"pty"}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		stderr, err := cmd.StderrPipe()
		if err != nil {
			return nil, err
		}
		// The proto's default: stdin is open unless asked otherwise.
		// An envd older than 0.3.0 always opens it.
		if req.Stdin == nil || req.GetStdin() || !sb.has(gateStartStdin) {
			if p.stdin, err = cmd.StdinPipe(); err != nil {
				return nil, err
			}
		}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		outputs, kinds = []io.Reader{stdout, stderr}, []string{"stdout", "stderr"}
	}

	sb.mu.Lock()
	if sb.dead {
		sb.mu.Unlock()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		return nil, errors.New("sandbox is gone")
	}
	sb.nextPID++
	p.pid = sb.nextPID
	sb.procs[p.pid] = p
	sb.mu.Unlock()
	sb.f.processChanged()

	go p.follow(outputs, kinds)
	return p, nil
}

// pollable returns a non-blocking copy of a terminal's master, which
// deadlines and Close can interrupt (pty hands it out in blocking mode),
// and closes the original.
func pollable(ptmx *os.File) (*os.File, error) {
	fd, err := unix.Dup(int(ptmx.Fd()))
	_ = ptmx.Close()
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	unix.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "/dev/ptmx"), nil
}

// setSize resizes a terminal without putting its master in blocking mode.
func setSize(ptmx *os.File, cols, rows uint16) error {
	rc, err := ptmx.SyscallConn()
	if err != nil {
		return err
	}
	var ioErr error
	if err := rc.Control(func(fd uintptr) {
		ioErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Col: cols, Row: rows})
	}); err != nil {
		return err
	}
	return ioErr
}

// environ is the process's environment: a PATH, HOME, the sandbox's
// variables, then the request's.
func (sb *sandbox) environ(extra map[string]string) []string {
	homeDir, _ := sb.hostPath(home)
	env := map[string]string{"PATH": os.Getenv("PATH"), "HOME": homeDir, "USER": "user"}
	for k, v := range sb.env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// follow reads the outputs to their end, waits for the process, and sends
// the end event.
func (p *proc) follow(outputs []io.Reader, kinds []string) {
	var wg sync.WaitGroup
	for i, r := range outputs {
		kind := kinds[i]
		wg.Go(func() {
			buf := make([]byte, 16<<10)
			for {
				n, err := r.Read(buf)
				if n > 0 {
					p.events <- dataEvent(kind, append([]byte(nil), buf[:n]...))
				}
				if err != nil {
					return
				}
			}
		})
	}
	var err error
	if p.ptmx != nil {
		// A terminal's reader ends when nothing holds the terminal any
		// more; once the program has exited, its output is read within a
		// moment even if something else still holds it.
		err = p.cmd.Wait()
		_ = p.ptmx.SetReadDeadline(time.Now().Add(time.Second))
		wg.Wait()
		_ = p.ptmx.Close()
	} else {
		wg.Wait()
		err = p.cmd.Wait()
	}
	end := &process.ProcessEvent_EndEvent{Exited: true}
	if ps := p.cmd.ProcessState; ps != nil {
		end.ExitCode = int32(ps.ExitCode())
		end.Status = ps.String()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			end.Exited = false
		}
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			p.sb.mu.Lock()
			p.sb.peak = max(p.sb.peak, ru.Maxrss*1024)
			p.sb.mu.Unlock()
		}
	}
	if err != nil && p.cmd.ProcessState == nil {
		msg := err.Error()
		end.Error = &msg
	}
	p.events <- &process.ProcessEvent{Event: &process.ProcessEvent_End{End: end}}
	close(p.events)
	p.sb.mu.Lock()
	delete(p.sb.procs, p.pid)
	p.sb.mu.Unlock()
	close(p.done)
	p.sb.f.processChanged()
}

func dataEvent(kind string, b []byte) *process.ProcessEvent {
	d := &process.ProcessEvent_DataEvent{}
	switch kind {
	case "stdout":
		d.Output = &process.ProcessEvent_DataEvent_Stdout{Stdout: b}
	case "stderr":
		d.Output = &process.ProcessEvent_DataEvent_Stderr{Stderr: b}
	default:
		d.Output = &process.ProcessEvent_DataEvent_Pty{Pty: b}
	}
	return &process.ProcessEvent{Event: &process.ProcessEvent_Data{Data: d}}
}

// signal sends sig to the process's group.
func (p *proc) signal(sig syscall.Signal) {
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

// drain discards the events nobody reads any more, so the process is
// never blocked on its output.
func (p *proc) drain() {
	for range p.events {
	}
}

// find returns a live process by selector.
func (sb *sandbox) find(sel *process.ProcessSelector) *proc {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sel == nil {
		return nil
	}
	switch s := sel.GetSelector().(type) {
	case *process.ProcessSelector_Pid:
		return sb.procs[s.Pid]
	case *process.ProcessSelector_Tag:
		for _, p := range sb.procs {
			if p.tag != "" && p.tag == s.Tag {
				return p
			}
		}
	}
	return nil
}
