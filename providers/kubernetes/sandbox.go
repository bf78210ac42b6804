package kubernetes

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	processv1 "sigs.k8s.io/agent-sandbox/packages/sandboxd/spec/process/v1"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/internal/vendorhttp"
)

// Sandbox is one agent-sandbox sandbox. Every method is safe for
// concurrent use.
type Sandbox struct {
	p           *Provider
	id          string // the claim's (or Sandbox's) name
	sandboxName string // the Sandbox's name: the router's X-Sandbox-ID
	podIP       string

	files    *http.Client // to sandboxd's REST API, pinned to one origin
	filesURL string
	conn     *grpc.ClientConn
	proc     processv1.ProcessServiceClient
	pe       *podExec // set: processes and files go through pods/exec

	executions atomic.Int64
	gone       atomic.Bool // Destroy has begun: every other method fails

	destroyMu sync.Mutex
	destroyed bool
}

var (
	_ computemw.Sandbox        = (*Sandbox)(nil)
	_ computemw.FileOpener     = (*Sandbox)(nil)
	_ computemw.TerminalOpener = (*Sandbox)(nil)
)

// HeaderSandboxID, HeaderSandboxNamespace and HeaderSandboxPort are the
// sandbox router's routing headers; the provider sends them on every file
// request, and the first two as gRPC metadata on process calls.
const (
	HeaderSandboxID        = "X-Sandbox-ID"
	HeaderSandboxNamespace = "X-Sandbox-Namespace"
	HeaderSandboxPort      = "X-Sandbox-Port"
)

// open makes a handle on a Ready sandbox: an HTTP client for its files
// and a (lazily connecting) gRPC client for its processes.
func (p *Provider) open(id string, st readyState) (*Sandbox, error) {
	if p.opts.PodExec {
		return &Sandbox{p: p, id: id, sandboxName: st.sandboxName, podIP: st.podIP,
			pe: &podExec{cfg: p.cfg, ns: p.opts.Namespace, pod: st.sandboxName, container: p.opts.Container, workDir: p.opts.WorkDir}}, nil
	}
	if st.podIP == "" {
		return nil, computemw.Errorf(computemw.CodeUnavailable, "sandbox %s is Ready but has no pod IP", id)
	}
	s := &Sandbox{p: p, id: id, sandboxName: st.sandboxName, podIP: st.podIP}
	hdr := http.Header{}
	if p.opts.RouterURL != "" {
		s.filesURL = strings.TrimSuffix(p.opts.RouterURL, "/")
		hdr.Set(HeaderSandboxID, st.sandboxName)
		hdr.Set(HeaderSandboxNamespace, p.opts.Namespace)
		hdr.Set(HeaderSandboxPort, strconv.Itoa(p.opts.FilesPort))
	} else {
		s.filesURL = "http://" + net.JoinHostPort(st.podIP, strconv.Itoa(p.opts.FilesPort))
	}
	c, err := vendorhttp.New(p.opts.HTTPClient, s.filesURL, hdr)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	s.files = c
	conn, err := grpc.NewClient(net.JoinHostPort(st.podIP, strconv.Itoa(p.opts.ProcessPort)),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("kubernetes: process service of %s: %w", id, err)
	}
	s.conn = conn
	s.proc = processv1.NewProcessServiceClient(conn)
	return s, nil
}

// ID implements computemw.Sandbox: the name of the SandboxClaim (or of the
// Sandbox, without a warm pool).
func (s *Sandbox) ID() string { return s.id }

// Provider implements computemw.Sandbox.
func (s *Sandbox) Provider() string { return Name }

// SandboxName is the name of the agent-sandbox Sandbox (for a claim, the
// one the controller bound to it).
func (s *Sandbox) SandboxName() string { return s.sandboxName }

// Usage implements computemw.Sandbox. sandboxd reports no CPU time or peak
// memory, so only Executions is counted.
func (s *Sandbox) Usage(ctx context.Context) (computemw.Usage, error) {
	if err := s.alive(); err != nil {
		return computemw.Usage{}, err
	}
	return computemw.Usage{Executions: s.executions.Load()}, nil
}

// Destroy implements computemw.Sandbox: it deletes the claim (or
// Sandbox); the controller then deletes the pod and with it every process.
// It is idempotent; an object already gone counts as destroyed.
func (s *Sandbox) Destroy(ctx context.Context) error {
	s.gone.Store(true)
	s.destroyMu.Lock()
	defer s.destroyMu.Unlock()
	if s.destroyed {
		return nil
	}
	if err := s.p.delete(ctx, s.id); err != nil {
		return err
	}
	s.destroyed = true
	s.closeConns()
	s.p.untrack(s.id)
	return nil
}

// closeConns closes the handle's connections (not the sandbox).
func (s *Sandbox) closeConns() {
	if s.conn != nil {
		_ = s.conn.Close()
	}
	if s.files != nil {
		s.files.CloseIdleConnections()
	}
}

func (s *Sandbox) alive() error {
	if s.gone.Load() {
		return computemw.Errorf(computemw.CodeNotFound, "sandbox %s is destroyed", s.id)
	}
	return nil
}

// resolve checks a path relative to the sandbox's root (sandboxd's
// /workspace) and cleans it; "." is the root. Absolute paths and paths
// that leave the root are refused.
func (s *Sandbox) resolve(p string) (string, error) {
	if err := s.alive(); err != nil {
		return "", err
	}
	if strings.ContainsRune(p, 0) {
		return "", computemw.Errorf(computemw.CodeBadRequest, "invalid path: contains a NUL byte")
	}
	if path.IsAbs(p) {
		return "", computemw.Errorf(computemw.CodeBadRequest, "invalid path %q: must be relative to the sandbox's working directory", p)
	}
	c := path.Clean(p)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", computemw.Errorf(computemw.CodeBadRequest, "invalid path %q: leaves the sandbox's working directory", p)
	}
	return c, nil
}
