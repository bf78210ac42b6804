package modalfake

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// router is the fake's task command router: the exec methods.
type router struct {
	pb.UnimplementedTaskCommandRouterServer
	s *Server
}

// task finds the running sandbox of a task.
func (s *Server) task(taskID string) (*sandbox, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sb := range s.sandboxes {
		if sb.taskID == taskID {
			if sb.finished() {
				return nil, status.Error(codes.NotFound, "task has finished")
			}
			return sb, nil
		}
	}
	return nil, status.Errorf(codes.NotFound, "task %q not found", taskID)
}

func (s *Server) execution(taskID, execID string) (*execution, error) {
	sb, err := s.task(taskID)
	if err != nil {
		return nil, err
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	e, ok := sb.execs[execID]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "exec %q not found", execID)
	}
	return e, nil
}

func (r *router) TaskExecStart(ctx context.Context, req *pb.TaskExecStartRequest) (*pb.TaskExecStartResponse, error) {
	s := r.s
	sb, err := s.task(req.GetTaskId())
	if err != nil {
		return nil, err
	}
	var problems []string
	argv := req.GetCommandArgs()
	if len(argv) == 0 || req.GetExecId() == "" {
		problems = append(problems, "no command or exec_id")
	}
	if req.HasTimeoutSecs() && (req.GetTimeoutSecs() < 1 || req.GetTimeoutSecs() > 24*3600) {
		problems = append(problems, fmt.Sprintf("timeout_secs %d is not 1s..24h (seconds expected)", req.GetTimeoutSecs()))
	}
	if req.GetStdoutConfig() != pb.TaskExecStdoutConfig_TASK_EXEC_STDOUT_CONFIG_PIPE || req.GetStderrConfig() != pb.TaskExecStderrConfig_TASK_EXEC_STDERR_CONFIG_PIPE {
		problems = append(problems, "stdout or stderr not piped")
	}
	if req.HasPtyInfo() {
		problems = append(problems, "a PTY was asked for")
	}
	workdir := sb.workdir
	if req.HasWorkdir() {
		workdir = req.GetWorkdir()
	}
	dir, ok := sb.hostPath(workdir)
	if !ok || workdir != filepath.Clean(workdir) {
		problems = append(problems, fmt.Sprintf("workdir %q is outside the sandbox's working directory %q", workdir, sb.workdir))
	}
	if len(problems) > 0 {
		s.t.Errorf("modalfake: TaskExecStart: %v", problems)
		return nil, status.Errorf(codes.InvalidArgument, "%v", problems)
	}
	env := map[string]string{}
	for _, src := range req.GetSecretSources() {
		for k, v := range src.GetEnv().GetContents() {
			env[k] = v
		}
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sb.done {
		return nil, status.Error(codes.NotFound, "task has finished")
	}
	if _, ok := sb.execs[req.GetExecId()]; ok { // a retry of a start already made
		return &pb.TaskExecStartResponse{}, nil
	}
	if !strings.HasPrefix(argv[0], "/__modal/") {
		if err := mkdirAll(dir); err != nil { // Modal's WORKDIR exists
			return nil, status.Error(codes.Internal, err.Error())
		}
	}
	e, err := s.start(sb, argv, dir, env, time.Duration(req.GetTimeoutSecs())*time.Second)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	sb.execs[req.GetExecId()] = e
	return &pb.TaskExecStartResponse{}, nil
}

func (r *router) TaskExecStdinWrite(ctx context.Context, req *pb.TaskExecStdinWriteRequest) (*pb.TaskExecStdinWriteResponse, error) {
	e, err := r.s.execution(req.GetTaskId(), req.GetExecId())
	if err != nil {
		return nil, err
	}
	if err := e.writeStdin(req.GetOffset(), req.GetData(), req.GetEof()); err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	return &pb.TaskExecStdinWriteResponse{}, nil
}

func (r *router) TaskExecStdinWriteStream(stream grpc.ClientStreamingServer[pb.TaskExecStdinWriteStreamRequest, pb.TaskExecStdinWriteStreamResponse]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	if !first.HasStart() {
		r.s.t.Errorf("modalfake: TaskExecStdinWriteStream does not begin with start")
		return status.Error(codes.InvalidArgument, "no start")
	}
	start := first.GetStart()
	e, err := r.s.execution(start.GetTaskId(), start.GetExecId())
	if err != nil {
		return err
	}
	offset := start.GetOffset()
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			return nil // broken off before End: stdin stays open for a resume
		}
		if err != nil {
			return err
		}
		switch {
		case msg.HasData():
			if err := e.writeStdin(offset, msg.GetData(), false); err != nil {
				return status.Error(codes.FailedPrecondition, err.Error())
			}
			offset += uint64(len(msg.GetData()))
		case msg.HasEnd():
			if err := e.writeStdin(offset, nil, true); err != nil {
				return status.Error(codes.FailedPrecondition, err.Error())
			}
			return stream.SendAndClose(&pb.TaskExecStdinWriteStreamResponse{})
		default:
			r.s.t.Errorf("modalfake: TaskExecStdinWriteStream: a message without data or end")
			return status.Error(codes.InvalidArgument, "bad message")
		}
	}
}

func (r *router) TaskExecStdinStatus(ctx context.Context, req *pb.TaskExecStdinStatusRequest) (*pb.TaskExecStdinStatusResponse, error) {
	e, err := r.s.execution(req.GetTaskId(), req.GetExecId())
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return pb.TaskExecStdinStatusResponse_builder{NumBytesWritten: e.written, Closed: e.eof}.Build(), nil
}

func (r *router) TaskExecStdioRead(req *pb.TaskExecStdioReadRequest, out grpc.ServerStreamingServer[pb.TaskExecStdioReadResponse]) error {
	e, err := r.s.execution(req.GetTaskId(), req.GetExecId())
	if err != nil {
		return err
	}
	var st *stream
	switch req.GetFileDescriptor() {
	case pb.TaskExecStdioFileDescriptor_TASK_EXEC_STDIO_FILE_DESCRIPTOR_STDOUT:
		st = e.stdout
	case pb.TaskExecStdioFileDescriptor_TASK_EXEC_STDIO_FILE_DESCRIPTOR_STDERR:
		st = e.stderr
	default:
		r.s.t.Errorf("modalfake: TaskExecStdioRead of file descriptor %v", req.GetFileDescriptor())
		return status.Error(codes.InvalidArgument, "bad file descriptor")
	}
	f := r.s.fault("TaskExecStdioRead")
	if f != nil && f.Code != codes.OK {
		return faultError(f)
	}
	ctx := out.Context()
	off, sent := int(req.GetOffset()), 0
	for {
		chunk, ended, changed := st.read(off, 64<<10)
		if len(chunk) > 0 {
			if f != nil && f.Slow > 0 {
				t := time.NewTimer(f.Slow)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return status.FromContextError(ctx.Err()).Err()
				}
			}
			if f != nil && f.ResetAfter > 0 && sent+len(chunk) > f.ResetAfter {
				chunk = chunk[:f.ResetAfter-sent]
				if len(chunk) > 0 {
					if err := out.Send(pb.TaskExecStdioReadResponse_builder{Data: chunk}.Build()); err != nil {
						return err
					}
				}
				return status.Error(codes.Unavailable, "injected reset in the middle of the stream")
			}
			if err := out.Send(pb.TaskExecStdioReadResponse_builder{Data: chunk}.Build()); err != nil {
				return err
			}
			off += len(chunk)
			sent += len(chunk)
			continue
		}
		if ended {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

func (r *router) TaskExecWait(ctx context.Context, req *pb.TaskExecWaitRequest) (*pb.TaskExecWaitResponse, error) {
	e, err := r.s.execution(req.GetTaskId(), req.GetExecId())
	if err != nil {
		return nil, err
	}
	if err := e.wait(ctx); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	if e.signal != 0 {
		sig := e.signal
		return pb.TaskExecWaitResponse_builder{Signal: &sig}.Build(), nil
	}
	code := e.code
	return pb.TaskExecWaitResponse_builder{Code: &code}.Build(), nil
}
