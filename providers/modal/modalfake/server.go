// Package modalfake is a contract fake of Modal for tests: two loopback
// gRPC servers that implement the Go SDK's own generated server
// interfaces, the control plane (modal.client.ModalClient) and the
// per-task command router (modal.task_command_router.TaskCommandRouter),
// with the SDK's message types. The SDK speaks plaintext to an
// http://127.0.0.1:PORT server URL, and, because that host is a loopback
// one, dials the router (whose URL must be https://) without TLS.
//
// Sandboxes are directories under a temporary directory; commands run as
// local processes (sh, python3, ...) in them, and the SDK's filesystem
// tool (modal-sandbox-fs-tools with its JSON commands) is interpreted by
// the fake. Every request's metadata (client type, token, auth token,
// router JWT), unknown fields and units (milli-CPU, MiB, whole seconds)
// are checked; a wrong one fails the test. Faults are injected per method
// with [Server.Inject].
package modalfake

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/modal-labs/modal-client/go/proto/modal_proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Options configure a Server.
type Options struct {
	// ListPageSize is how many sandboxes one SandboxListV2 page holds;
	// default 2, so that listings follow pages.
	ListPageSize int
}

// Server is the fake. Its exported fields are what a provider needs.
type Server struct {
	// URL is the control plane's URL (http://127.0.0.1:PORT).
	URL string
	// TokenID and TokenSecret are the credentials it accepts.
	TokenID, TokenSecret string

	t          testing.TB
	opts       Options
	root       string
	cp, router *grpc.Server
	routerURL  string
	authToken  string
	routerJWT  string

	mu        sync.Mutex
	sandboxes map[string]*sandbox
	byKey     map[string]string // idempotency key of a create -> sandbox ID
	apps      map[string]string // app name -> ID
	calls     map[string]int
	faults    []*Fault
	made      int
	seq       int
	wg        sync.WaitGroup // processes and late creates
}

// Fault is an injected failure of one method ("SandboxCreateV2",
// "TaskExecStdioRead", ...), used up by the next calls.
type Fault struct {
	// Method is the gRPC method's short name.
	Method string
	// Code, when set, is returned instead of an answer.
	Code codes.Code
	// RetryAfter, with Code ResourceExhausted, adds the RPCRetryPolicy
	// detail with which Modal throttles.
	RetryAfter time.Duration
	// ResetAfter, for a stream (TaskExecStdioRead), sends that many bytes
	// and then breaks the stream with UNAVAILABLE.
	ResetAfter int
	// Slow, for a stream, waits this long before each chunk.
	Slow time.Duration
	// CreateAfterGiveUp, for SandboxCreateV2, holds the call until the
	// client gives up, then makes the sandbox anyway.
	CreateAfterGiveUp bool
	// Times is how many calls it applies to; default 1.
	Times int
}

// New starts the fake; it stops, and checks that no process is left, when
// the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.ListPageSize <= 0 {
		opts.ListPageSize = 2
	}
	s := &Server{
		t: t, opts: opts, root: t.TempDir(),
		TokenID: "ak-" + hexID(8), TokenSecret: "as-" + hexID(16),
		authToken: fakeJWT(time.Now().Add(time.Hour)), routerJWT: fakeJWT(time.Now().Add(time.Hour)),
		sandboxes: map[string]*sandbox{}, byKey: map[string]string{}, apps: map[string]string{}, calls: map[string]int{},
	}
	cpL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.URL = "http://" + cpL.Addr().String()
	s.routerURL = "https://" + rL.Addr().String() // the SDK requires https; it dials loopback in plaintext
	s.cp = grpc.NewServer(grpc.ChainUnaryInterceptor(s.unaryCheck(false)), grpc.ChainStreamInterceptor(s.streamCheck(false)))
	pb.RegisterModalClientServer(s.cp, &control{s: s})
	s.router = grpc.NewServer(grpc.ChainUnaryInterceptor(s.unaryCheck(true)), grpc.ChainStreamInterceptor(s.streamCheck(true)))
	pb.RegisterTaskCommandRouterServer(s.router, &router{s: s})
	go s.cp.Serve(cpL)
	go s.router.Serve(rL)
	t.Cleanup(s.close)
	return s
}

func (s *Server) close() {
	s.mu.Lock()
	for _, sb := range s.sandboxes {
		sb.terminate()
	}
	s.mu.Unlock()
	s.cp.Stop()
	s.router.Stop()
	s.wg.Wait()
}

// Live lists the IDs of the sandboxes that run.
func (s *Server) Live() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, sb := range s.sandboxes {
		if !sb.finished() {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Made is how many sandboxes the fake has made.
func (s *Server) Made() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.made
}

// Calls is how many calls of a method (short name) reached the fake.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Running is how many commands run in the fake's sandboxes.
func (s *Server) Running() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, sb := range s.sandboxes {
		n += sb.running()
	}
	return n
}

// Definition is what a sandbox was created with, in Modal's units.
type Definition struct {
	MilliCPU, MemoryMB           uint32
	TimeoutSecs, IdleTimeoutSecs uint32
	Workdir                      string
	NetworkBlocked               bool
	Env, Tags                    map[string]string
}

// Definition returns what a sandbox was created with.
func (s *Server) Definition(id string) (Definition, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sb, ok := s.sandboxes[id]
	if !ok {
		return Definition{}, false
	}
	return sb.def, true
}

// Tags returns a sandbox's tags.
func (s *Server) Tags(id string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sb, ok := s.sandboxes[id]; ok {
		return sb.tags
	}
	return nil
}

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// fault takes the next fault of a method, if any.
func (s *Server) fault(method string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Method == method {
			f.Times--
			if f.Times == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			c := *f
			return &c
		}
	}
	return nil
}

// faultError is the status a fault answers with.
func faultError(f *Fault) error {
	st := status.New(f.Code, "injected fault")
	if f.Code == codes.ResourceExhausted && f.RetryAfter > 0 {
		withDetail, err := st.WithDetails(pb.RPCRetryPolicy_builder{RetryAfterSecs: float32(f.RetryAfter.Seconds())}.Build())
		if err == nil {
			st = withDetail
		}
	}
	return st.Err()
}

func shortName(full string) string {
	for i := len(full) - 1; i >= 0; i-- {
		if full[i] == '/' {
			return full[i+1:]
		}
	}
	return full
}

// check verifies a call's metadata; a wrong one fails the test and the
// call (UNAUTHENTICATED).
func (s *Server) check(ctx context.Context, method string, routerSide bool) error {
	md, _ := metadata.FromIncomingContext(ctx)
	// The SDK may add a header more than once (its header interceptor
	// runs for the auth-token fetch too); every copy must be right.
	one := func(k string) string {
		v := md.Get(k)
		for _, x := range v[min(len(v), 1):] {
			if x != v[0] {
				return ""
			}
		}
		if len(v) == 0 {
			return ""
		}
		return v[0]
	}
	var problems []string
	if routerSide {
		if one("authorization") != "Bearer "+s.routerJWT {
			problems = append(problems, "authorization is not the router JWT")
		}
		if len(md.Get("x-modal-token-secret")) > 0 {
			problems = append(problems, "the token secret was sent to the command router")
		}
	} else {
		if one("x-modal-client-type") != strconv.Itoa(int(pb.ClientType_CLIENT_TYPE_LIBMODAL_GO)) {
			problems = append(problems, fmt.Sprintf("x-modal-client-type %q", md.Get("x-modal-client-type")))
		}
		if !strings.HasPrefix(one("x-modal-libmodal-version"), "modal-go/") || one("x-modal-client-version") == "" {
			problems = append(problems, fmt.Sprintf("x-modal-libmodal-version %q, x-modal-client-version %q", md.Get("x-modal-libmodal-version"), md.Get("x-modal-client-version")))
		}
		if one("x-modal-token-id") != s.TokenID || one("x-modal-token-secret") != s.TokenSecret {
			problems = append(problems, "wrong x-modal-token-id/x-modal-token-secret")
		}
		if method != "AuthTokenGet" && one("x-modal-auth-token") != s.authToken {
			problems = append(problems, "x-modal-auth-token is not the token AuthTokenGet issued")
		}
	}
	if len(problems) > 0 {
		s.t.Errorf("modalfake: %s: %v", method, problems)
		return status.Errorf(codes.Unauthenticated, "modalfake: %v", problems)
	}
	return nil
}

// checkMessage fails the test on a message with fields the SDK's types
// do not know.
func (s *Server) checkMessage(method string, m any) error {
	if pm, ok := m.(proto.Message); ok && len(pm.ProtoReflect().GetUnknown()) > 0 {
		s.t.Errorf("modalfake: %s: unknown fields in the request", method)
		return status.Error(codes.InvalidArgument, "unknown fields")
	}
	return nil
}

func (s *Server) count(method string) {
	s.mu.Lock()
	s.calls[method]++
	s.mu.Unlock()
}

func (s *Server) unaryCheck(routerSide bool) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		m := shortName(info.FullMethod)
		s.count(m)
		if err := s.check(ctx, m, routerSide); err != nil {
			return nil, err
		}
		if err := s.checkMessage(m, req); err != nil {
			return nil, err
		}
		if m != "SandboxCreateV2" { // its faults are handled there
			if f := s.fault(m); f != nil && f.Code != codes.OK {
				return nil, faultError(f)
			}
		}
		return handler(ctx, req)
	}
}

func (s *Server) streamCheck(routerSide bool) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		m := shortName(info.FullMethod)
		s.count(m)
		if err := s.check(ss.Context(), m, routerSide); err != nil {
			return err
		}
		return handler(srv, &checkedStream{ServerStream: ss, s: s, method: m})
	}
}

// checkedStream checks every message a client streams.
type checkedStream struct {
	grpc.ServerStream
	s      *Server
	method string
}

func (c *checkedStream) RecvMsg(m any) error {
	if err := c.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return c.s.checkMessage(c.method, m)
}

func hexID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// fakeJWT is an unsigned token of the JWT shape the SDK reads exp from.
func fakeJWT(exp time.Time) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." +
		enc.EncodeToString([]byte(fmt.Sprintf(`{"exp":%d}`, exp.Unix()))) + "." + enc.EncodeToString([]byte("fake"))
}

func (s *Server) nextID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s-%04d%s", prefix, s.seq, hexID(6))
}

func mkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }

// WaitNoneLive waits until every sandbox has ended, or ctx ends.
func (s *Server) WaitNoneLive(ctx context.Context) error {
	s.mu.Lock()
	var ended []chan struct{}
	for _, sb := range s.sandboxes {
		ended = append(ended, sb.ended)
	}
	s.mu.Unlock()
	for _, c := range ended {
		select {
		case <-c:
		case <-ctx.Done():
			return fmt.Errorf("modalfake: sandboxes still live: %v: %w", s.Live(), ctx.Err())
		}
	}
	return nil
}
