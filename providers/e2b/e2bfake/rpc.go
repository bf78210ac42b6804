package e2bfake

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/computemw/kit/providers/e2b/internal/envd/filesystem"
	"github.com/computemw/kit/providers/e2b/internal/envd/filesystem/filesystemconnect"
	"github.com/computemw/kit/providers/e2b/internal/envd/process"
	"github.com/computemw/kit/providers/e2b/internal/envd/process/processconnect"
)

func sandboxOf(ctx context.Context) *sandbox {
	sb, _ := ctx.Value(sandboxKey{}).(*sandbox)
	return sb
}

// faultError turns an injected status into a Connect error.
func faultError(ft *Fault) error {
	if ft == nil || ft.Status == 0 {
		return nil
	}
	code := connect.CodeUnavailable
	switch ft.Status {
	case http.StatusBadRequest:
		code = connect.CodeInvalidArgument
	case http.StatusNotFound:
		code = connect.CodeNotFound
	case http.StatusTooManyRequests:
		code = connect.CodeResourceExhausted
	case http.StatusInternalServerError:
		code = connect.CodeInternal
	case http.StatusGatewayTimeout:
		code = connect.CodeDeadlineExceeded
	}
	err := connect.NewError(code, errors.New("injected fault"))
	if ft.RetryAfter > 0 {
		err.Meta().Set("Retry-After", fmt.Sprint(int(ft.RetryAfter/time.Second)))
	}
	return err
}

// processService is envd's process.Process.
type processService struct {
	processconnect.UnimplementedProcessHandler
	f *Fake
}

// Start runs a process and streams its events: start, output, end.
func (s *processService) Start(ctx context.Context, req *connect.Request[process.StartRequest], stream *connect.ServerStream[process.StartResponse]) error {
	ft := s.f.take(OpStart)
	if err := faultError(ft); err != nil {
		return err
	}
	sb := sandboxOf(ctx)
	m := req.Msg
	if m.GetProcess().GetCmd() == "" {
		s.f.errorf("Start: process.cmd is empty")
		return connect.NewError(connect.CodeInvalidArgument, errors.New("cmd is required"))
	}
	if m.Pty != nil && (m.GetPty().GetSize().GetCols() == 0 || m.GetPty().GetSize().GetRows() == 0) {
		s.f.errorf("Start: a pty of size %dx%d", m.GetPty().GetSize().GetCols(), m.GetPty().GetSize().GetRows())
		return connect.NewError(connect.CodeInvalidArgument, errors.New("pty size must be positive"))
	}
	if m.Stdin != nil && !sb.has(gateStartStdin) {
		s.f.errorf("Start: stdin set, a field envd %s does not have (from 0.3.0)", sb.version)
		return connect.NewError(connect.CodeInvalidArgument, errors.New("unknown field stdin"))
	}
	p, err := sb.startProc(m)
	if err != nil {
		return connect.NewError(connect.CodeInvalidArgument, err)
	}
	defer func() { go p.drain() }()
	sent := 0
	send := func(ev *process.ProcessEvent) error {
		if ft != nil && ft.EventDelay > 0 {
			t := time.NewTimer(ft.EventDelay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
		if err := stream.Send(&process.StartResponse{Event: ev}); err != nil {
			return err
		}
		sent++
		if ft != nil && ft.ResetAfterEvents > 0 && sent >= ft.ResetAfterEvents {
			// Abort the connection in the middle of the stream.
			panic(http.ErrAbortHandler)
		}
		return nil
	}
	// The edge in front of envd cuts a stream that sent nothing for its
	// idle timeout; envd's keepalive events, sent only when the start
	// request asks for them, keep it open.
	idleCut, second := s.f.streamTiming()
	var idle <-chan time.Time
	var idleTimer *time.Timer
	if idleCut > 0 {
		idleTimer = time.NewTimer(idleCut)
		defer idleTimer.Stop()
		idle = idleTimer.C
	}
	var ping <-chan time.Time
	if n, err := strconv.Atoi(req.Header().Get("Keepalive-Ping-Interval")); err == nil && n > 0 {
		t := time.NewTicker(time.Duration(n) * second)
		defer t.Stop()
		ping = t.C
	}
	sendReset := func(ev *process.ProcessEvent) error {
		if err := send(ev); err != nil {
			return err
		}
		if idleTimer != nil {
			idleTimer.Reset(idleCut)
		}
		return nil
	}
	if err := sendReset(&process.ProcessEvent{Event: &process.ProcessEvent_Start{Start: &process.ProcessEvent_StartEvent{Pid: p.pid}}}); err != nil {
		return nil // the client left; the process goes on, as in envd
	}
	for {
		select {
		case ev, ok := <-p.events:
			if !ok {
				return nil
			}
			if err := sendReset(ev); err != nil {
				return nil
			}
		case <-ping:
			if err := sendReset(&process.ProcessEvent{Event: &process.ProcessEvent_Keepalive{Keepalive: &process.ProcessEvent_KeepAlive{}}}); err != nil {
				return nil
			}
			s.f.keepaliveSent()
		case <-idle:
			// The edge's idle timeout: the connection is cut; the
			// process goes on, as in envd.
			panic(http.ErrAbortHandler)
		case <-ctx.Done():
			// The client or the server went away; the process goes
			// on, as in envd.
			return nil
		}
	}
}

func (s *processService) proc(ctx context.Context, sel *process.ProcessSelector) (*proc, error) {
	if sel == nil || sel.GetSelector() == nil {
		s.f.errorf("a process RPC without a process selector")
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("process selector is required"))
	}
	p := sandboxOf(ctx).find(sel)
	if p == nil {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("process not found"))
	}
	return p, nil
}

// SendInput writes to a process's stdin or pseudo-terminal.
func (s *processService) SendInput(ctx context.Context, req *connect.Request[process.SendInputRequest]) (*connect.Response[process.SendInputResponse], error) {
	if err := faultError(s.f.take(OpSendInput)); err != nil {
		return nil, err
	}
	p, err := s.proc(ctx, req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	p.inMu.Lock()
	defer p.inMu.Unlock()
	switch in := req.Msg.GetInput().GetInput().(type) {
	case *process.ProcessInput_Stdin:
		if p.stdin == nil {
			s.f.errorf("SendInput: stdin sent to a process started without stdin")
			return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("stdin is not enabled"))
		}
		_, err = p.stdin.Write(in.Stdin)
	case *process.ProcessInput_Pty:
		if p.ptmx == nil {
			s.f.errorf("SendInput: pty input sent to a process without a pty")
			return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("no pty"))
		}
		_, err = p.ptmx.Write(in.Pty)
	default:
		s.f.errorf("SendInput: no input")
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("input is required"))
	}
	if err != nil {
		return nil, connect.NewError(connect.CodeFailedPrecondition, err)
	}
	return connect.NewResponse(&process.SendInputResponse{}), nil
}

// CloseStdin closes a process's stdin.
func (s *processService) CloseStdin(ctx context.Context, req *connect.Request[process.CloseStdinRequest]) (*connect.Response[process.CloseStdinResponse], error) {
	if sb := sandboxOf(ctx); !sb.has(gateCloseStdin) {
		s.f.errorf("CloseStdin: envd %s has no such procedure (from 0.5.2)", sb.version)
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("process.Process.CloseStdin is not implemented"))
	}
	p, err := s.proc(ctx, req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	if p.stdin == nil {
		s.f.errorf("CloseStdin: on a process without stdin")
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("stdin is not enabled"))
	}
	p.inMu.Lock()
	defer p.inMu.Unlock()
	_ = p.stdin.Close()
	return connect.NewResponse(&process.CloseStdinResponse{}), nil
}

// SendSignal signals a process's group.
func (s *processService) SendSignal(ctx context.Context, req *connect.Request[process.SendSignalRequest]) (*connect.Response[process.SendSignalResponse], error) {
	if err := faultError(s.f.take(OpSignal)); err != nil {
		return nil, err
	}
	p, err := s.proc(ctx, req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	switch req.Msg.GetSignal() {
	case process.Signal_SIGNAL_SIGKILL:
		p.signal(syscall.SIGKILL)
	case process.Signal_SIGNAL_SIGTERM:
		p.signal(syscall.SIGTERM)
	default:
		s.f.errorf("SendSignal: signal %v", req.Msg.GetSignal())
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("unknown signal"))
	}
	return connect.NewResponse(&process.SendSignalResponse{}), nil
}

// Update resizes a process's pseudo-terminal.
func (s *processService) Update(ctx context.Context, req *connect.Request[process.UpdateRequest]) (*connect.Response[process.UpdateResponse], error) {
	p, err := s.proc(ctx, req.Msg.GetProcess())
	if err != nil {
		return nil, err
	}
	if req.Msg.Pty != nil {
		if p.ptmx == nil {
			return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("no pty"))
		}
		size := req.Msg.GetPty().GetSize()
		if size.GetCols() == 0 || size.GetRows() == 0 {
			s.f.errorf("Update: a pty of size %dx%d", size.GetCols(), size.GetRows())
			return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("pty size must be positive"))
		}
		if err := setSize(p.ptmx, uint16(size.GetCols()), uint16(size.GetRows())); err != nil {
			return nil, connect.NewError(connect.CodeInternal, err)
		}
	}
	return connect.NewResponse(&process.UpdateResponse{}), nil
}

// filesystemService is envd's filesystem.Filesystem.
type filesystemService struct {
	filesystemconnect.UnimplementedFilesystemHandler
	f *Fake
}

func entryOf(sb *sandbox, host string, fi fs.FileInfo) *filesystem.EntryInfo {
	e := &filesystem.EntryInfo{
		Name: fi.Name(), Path: sb.sandboxPath(host), Size: fi.Size(), Mode: uint32(fi.Mode().Perm()),
		Permissions: fi.Mode().String(), Owner: "user", Group: "user", ModifiedTime: timestamppb.New(fi.ModTime()),
		Type: filesystem.FileType_FILE_TYPE_FILE,
	}
	switch {
	case fi.IsDir():
		e.Type = filesystem.FileType_FILE_TYPE_DIRECTORY
	case fi.Mode()&fs.ModeSymlink != 0:
		e.Type = filesystem.FileType_FILE_TYPE_SYMLINK
		if t, err := os.Readlink(host); err == nil {
			e.SymlinkTarget = &t
		}
	}
	return e
}

func (s *filesystemService) host(ctx context.Context, p string) (*sandbox, string, error) {
	sb := sandboxOf(ctx)
	host, err := sb.hostPath(p)
	if err != nil {
		return nil, "", connect.NewError(connect.CodeInvalidArgument, err)
	}
	return sb, host, nil
}

func statError(p string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("path %q does not exist", p))
	}
	return connect.NewError(connect.CodeInternal, err)
}

// Stat describes an entry without following a final symlink.
func (s *filesystemService) Stat(ctx context.Context, req *connect.Request[filesystem.StatRequest]) (*connect.Response[filesystem.StatResponse], error) {
	if err := faultError(s.f.take(OpStat)); err != nil {
		return nil, err
	}
	sb, host, err := s.host(ctx, req.Msg.GetPath())
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(host)
	if err != nil {
		return nil, statError(req.Msg.GetPath(), err)
	}
	return connect.NewResponse(&filesystem.StatResponse{Entry: entryOf(sb, host, fi)}), nil
}

// MakeDir makes a directory and its parents; an existing path is ALREADY_EXISTS.
func (s *filesystemService) MakeDir(ctx context.Context, req *connect.Request[filesystem.MakeDirRequest]) (*connect.Response[filesystem.MakeDirResponse], error) {
	sb, host, err := s.host(ctx, req.Msg.GetPath())
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(host); err == nil {
		return nil, connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("path %q already exists", req.Msg.GetPath()))
	}
	if err := os.MkdirAll(host, 0o755); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	fi, err := os.Lstat(host)
	if err != nil {
		return nil, statError(req.Msg.GetPath(), err)
	}
	return connect.NewResponse(&filesystem.MakeDirResponse{Entry: entryOf(sb, host, fi)}), nil
}

// Move renames an entry, making the destination's parents.
func (s *filesystemService) Move(ctx context.Context, req *connect.Request[filesystem.MoveRequest]) (*connect.Response[filesystem.MoveResponse], error) {
	sb, src, err := s.host(ctx, req.Msg.GetSource())
	if err != nil {
		return nil, err
	}
	_, dst, err := s.host(ctx, req.Msg.GetDestination())
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(src); err != nil {
		return nil, statError(req.Msg.GetSource(), err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	if err := os.Rename(src, dst); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	fi, err := os.Lstat(dst)
	if err != nil {
		return nil, statError(req.Msg.GetDestination(), err)
	}
	return connect.NewResponse(&filesystem.MoveResponse{Entry: entryOf(sb, dst, fi)}), nil
}

// ListDir lists one level of a directory.
func (s *filesystemService) ListDir(ctx context.Context, req *connect.Request[filesystem.ListDirRequest]) (*connect.Response[filesystem.ListDirResponse], error) {
	if err := faultError(s.f.take(OpListDir)); err != nil {
		return nil, err
	}
	if req.Msg.GetDepth() != 1 {
		// The fake lists one level; the provider asks for no other.
		s.f.errorf("ListDir: depth %d, the fake serves depth 1", req.Msg.GetDepth())
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("depth must be 1"))
	}
	sb, host, err := s.host(ctx, req.Msg.GetPath())
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(host)
	if err != nil {
		return nil, statError(req.Msg.GetPath(), err)
	}
	if !fi.IsDir() {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("path %q is not a directory", req.Msg.GetPath()))
	}
	des, err := os.ReadDir(host)
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	out := &filesystem.ListDirResponse{}
	for _, de := range des {
		fi, err := de.Info()
		if err != nil {
			continue
		}
		out.Entries = append(out.Entries, entryOf(sb, filepath.Join(host, de.Name()), fi))
	}
	return connect.NewResponse(out), nil
}

// Remove deletes an entry (a tree for a directory); a missing one is NOT_FOUND.
func (s *filesystemService) Remove(ctx context.Context, req *connect.Request[filesystem.RemoveRequest]) (*connect.Response[filesystem.RemoveResponse], error) {
	_, host, err := s.host(ctx, req.Msg.GetPath())
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(host); err != nil {
		return nil, statError(req.Msg.GetPath(), err)
	}
	if err := os.RemoveAll(host); err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	return connect.NewResponse(&filesystem.RemoveResponse{}), nil
}
