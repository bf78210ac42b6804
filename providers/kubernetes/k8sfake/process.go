package k8sfake

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"sync"
	"syscall"

	"github.com/creack/pty"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	processv1 "sigs.k8s.io/agent-sandbox/packages/sandboxd/spec/process/v1"
)

// processServer is sandboxd's ProcessService for every sandbox of the
// plane; a call names its sandbox with the x-sandbox-id and
// x-sandbox-namespace metadata (one listener stands for every pod).
type processServer struct {
	processv1.UnimplementedProcessServiceServer
	p *Plane
}

// proc is one process of a sandbox.
type proc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser // the pipe, or the terminal
	ptmx  *os.File
	done  chan struct{}
	inMu  sync.Mutex
}

func (pr *proc) signal(sig syscall.Signal) { _ = syscall.Kill(-pr.cmd.Process.Pid, sig) }

func (s *processServer) sandbox(ctx context.Context) (*sandbox, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	one := func(k string) string {
		if v := md.Get(k); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	sb := s.p.lookup(one("x-sandbox-namespace"), one("x-sandbox-id"))
	if sb == nil {
		return nil, status.Error(codes.Unavailable, "no such sandbox")
	}
	return sb, nil
}

// command prepares a process as sandboxd does: argv, env over the
// daemon's, cwd confined to the root.
func (sb *sandbox) command(cfg *processv1.ProcessConfig) (*exec.Cmd, error) {
	argv := cfg.GetCommand()
	if len(argv) == 0 {
		return nil, status.Error(codes.InvalidArgument, "command is empty")
	}
	dir := sb.root
	if cfg.Cwd != nil && cfg.GetCwd() != "" {
		rel := path.Clean("/" + cfg.GetCwd())[1:]
		if cfg.GetCwd() != rel && path.Clean(cfg.GetCwd()) != rel {
			return nil, status.Error(codes.PermissionDenied, "cwd escapes the sandbox root")
		}
		root, err := os.OpenRoot(sb.root)
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		fi, err := root.Stat(rel)
		root.Close()
		if err != nil || !fi.IsDir() {
			return nil, status.Errorf(codes.InvalidArgument, "cwd %q is not a directory", cfg.GetCwd())
		}
		dir = sb.root + "/" + rel
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = sb.environ(cfg.GetEnvVars())
	return cmd, nil
}

// Start runs a process and streams its output: an init event, then
// stdout and stderr as they come, then the exit event. A stream that ends
// early kills the process group.
func (s *processServer) Start(req *processv1.StartRequest, stream processv1.ProcessService_StartServer) error {
	sb, err := s.sandbox(stream.Context())
	if err != nil {
		return err
	}
	cmd, err := sb.command(req.GetConfig())
	if err != nil {
		return err
	}
	pr := &proc{cmd: cmd, done: make(chan struct{})}
	var outs []io.Reader
	var kinds []int
	if req.Pty != nil {
		ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: uint16(req.GetPty().GetCols()), Rows: uint16(req.GetPty().GetRows())})
		if err != nil {
			return status.Error(codes.FailedPrecondition, err.Error())
		}
		pr.ptmx, pr.stdin = ptmx, ptmx
		outs, kinds = []io.Reader{ptmx}, []int{1}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		stdout, _ := cmd.StdoutPipe()
		stderr, _ := cmd.StderrPipe()
		pr.stdin, _ = cmd.StdinPipe()
		if err := cmd.Start(); err != nil {
			return status.Error(codes.FailedPrecondition, err.Error())
		}
		outs, kinds = []io.Reader{stdout, stderr}, []int{1, 2}
	}
	pid := int32(cmd.Process.Pid)
	sb.mu.Lock()
	if sb.dead {
		sb.mu.Unlock()
		pr.signal(syscall.SIGKILL)
		_ = cmd.Wait()
		return status.Error(codes.Unavailable, "sandbox is gone")
	}
	sb.procs[pid] = pr
	sb.mu.Unlock()

	var sendMu sync.Mutex
	send := func(ev *processv1.StartResponse) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(ev)
	}
	stop := context.AfterFunc(stream.Context(), func() { pr.signal(syscall.SIGKILL) })
	defer stop()
	_ = send(&processv1.StartResponse{Event: &processv1.StartResponse_Init{Init: &processv1.InitEvent{ProcessId: pid}}})
	var wg sync.WaitGroup
	for i, r := range outs {
		kind := kinds[i]
		wg.Go(func() {
			buf := make([]byte, 16<<10)
			for {
				n, err := r.Read(buf)
				if n > 0 {
					b := append([]byte(nil), buf[:n]...)
					ev := &processv1.StartResponse{Event: &processv1.StartResponse_Stdout{Stdout: b}}
					if kind == 2 {
						ev = &processv1.StartResponse{Event: &processv1.StartResponse_Stderr{Stderr: b}}
					}
					if send(ev) != nil {
						pr.signal(syscall.SIGKILL)
					}
				}
				if err != nil {
					return
				}
			}
		})
	}
	if pr.ptmx != nil {
		_ = cmd.Wait()
		pr.signal(syscall.SIGKILL) // what the program left on the terminal
		wg.Wait()                  // the terminal's reader ends once nothing holds it
		_ = pr.ptmx.Close()
	} else {
		wg.Wait()
		_ = cmd.Wait()
	}
	sb.mu.Lock()
	delete(sb.procs, pid)
	sb.mu.Unlock()
	close(pr.done)
	code := cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	return send(&processv1.StartResponse{Event: &processv1.StartResponse_Exit{Exit: &processv1.ExitEvent{ExitCode: int32(code)}}})
}

// Execute runs a process to its end and answers its output at once.
func (s *processServer) Execute(ctx context.Context, req *processv1.ExecuteRequest) (*processv1.ExecuteResponse, error) {
	sb, err := s.sandbox(ctx)
	if err != nil {
		return nil, err
	}
	cmd, err := sb.command(req.GetConfig())
	if err != nil {
		return nil, err
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	stop := context.AfterFunc(ctx, func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	defer stop()
	_ = cmd.Wait()
	return &processv1.ExecuteResponse{ExitCode: int32(cmd.ProcessState.ExitCode()), Stdout: out.Bytes(), Stderr: errb.Bytes()}, nil
}

func (s *processServer) proc(ctx context.Context, pid int32) (*proc, error) {
	sb, err := s.sandbox(ctx)
	if err != nil {
		return nil, err
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	pr := sb.procs[pid]
	if pr == nil {
		return nil, status.Errorf(codes.NotFound, "process %d not found", pid)
	}
	return pr, nil
}

// WriteStdin writes input, or closes stdin (EOF; on a terminal, EOF is
// nothing to close).
func (s *processServer) WriteStdin(ctx context.Context, req *processv1.WriteStdinRequest) (*processv1.WriteStdinResponse, error) {
	pr, err := s.proc(ctx, req.GetProcessId())
	if err != nil {
		return nil, err
	}
	pr.inMu.Lock()
	defer pr.inMu.Unlock()
	if req.GetEof() != nil {
		if pr.ptmx == nil {
			_ = pr.stdin.Close()
		}
		return &processv1.WriteStdinResponse{}, nil
	}
	if _, err := pr.stdin.Write(req.GetInput()); err != nil && !errors.Is(err, os.ErrClosed) {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	return &processv1.WriteStdinResponse{}, nil
}

// SendSignal signals the process group.
func (s *processServer) SendSignal(ctx context.Context, req *processv1.SendSignalRequest) (*processv1.SendSignalResponse, error) {
	pr, err := s.proc(ctx, req.GetProcessId())
	if err != nil {
		return nil, err
	}
	switch req.GetSignal() {
	case processv1.Signal_SIGNAL_SIGINT, processv1.Signal_SIGNAL_SIGKILL, processv1.Signal_SIGNAL_SIGTERM:
		pr.signal(syscall.Signal(req.GetSignal()))
	default:
		return nil, status.Error(codes.InvalidArgument, "unsupported signal")
	}
	return &processv1.SendSignalResponse{}, nil
}

// ResizeTTY resizes a process's terminal.
func (s *processServer) ResizeTTY(ctx context.Context, req *processv1.ResizeTTYRequest) (*processv1.ResizeTTYResponse, error) {
	pr, err := s.proc(ctx, req.GetProcessId())
	if err != nil {
		return nil, err
	}
	if pr.ptmx == nil {
		return nil, status.Error(codes.FailedPrecondition, "process has no terminal")
	}
	if err := pty.Setsize(pr.ptmx, &pty.Winsize{Cols: uint16(req.GetCols()), Rows: uint16(req.GetRows())}); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &processv1.ResizeTTYResponse{}, nil
}
