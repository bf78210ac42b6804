// Package k8sfake is a loopback fake of the agent-sandbox data plane for
// tests: sandboxd (its gRPC ProcessService and its /v1/files REST API,
// processes run by the host's sh in a temporary directory per sandbox),
// the sandbox router in front of the REST API, and a small controller that
// plays the agent-sandbox controller on any API server (a client-go fake
// or a real one): it marks SandboxClaims and Sandboxes Ready and points
// them at the fake. It follows sandboxd's spec (process.proto,
// filesystem.yaml) and the router's header contract.
package k8sfake

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"google.golang.org/grpc"
	processv1 "sigs.k8s.io/agent-sandbox/packages/sandboxd/spec/process/v1"
)

// Ports of the fake's sandboxd, as the router sees them.
const (
	// FilesPort is sandboxd's REST port, the X-Sandbox-Port the router
	// forwards to the fake's files API.
	FilesPort = 8080
	// PodIP is the pod IP the controller reports: the loopback address
	// the fake's ProcessService listens on.
	PodIP = "127.0.0.1"
)

// Plane is the fake data plane: sandboxes by namespace and name.
type Plane struct {
	t testing.TB

	// RouterURL is the fake sandbox router's base URL.
	RouterURL string
	// ProcessPort is the port of the fake's gRPC ProcessService on PodIP.
	ProcessPort int
	// APIURL is the base URL of the fake's pods/exec (a rest.Config Host).
	APIURL string

	router *httptest.Server
	api    *httptest.Server
	grpc   *grpc.Server
	lis    net.Listener

	mu        sync.Mutex
	sandboxes map[string]*sandbox // "namespace/name"
	routed    []string            // X-Sandbox-ID/X-Sandbox-Namespace/X-Sandbox-Port of each routed request
	execs     []string            // namespace/pod of each pods/exec
}

// New starts a fake data plane; t's cleanup stops it and checks that no
// sandbox (and so no process or directory) is left.
func New(t testing.TB) *Plane {
	p := &Plane{t: t, sandboxes: map[string]*sandbox{}}
	p.router = httptest.NewServer(http.HandlerFunc(p.route))
	p.RouterURL = p.router.URL
	p.api = httptest.NewServer(http.HandlerFunc(p.serveExec))
	p.APIURL = p.api.URL
	lis, err := net.Listen("tcp", PodIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	p.lis = lis
	p.ProcessPort = lis.Addr().(*net.TCPAddr).Port
	p.grpc = grpc.NewServer()
	processv1.RegisterProcessServiceServer(p.grpc, &processServer{p: p})
	go func() { _ = p.grpc.Serve(lis) }()
	t.Cleanup(p.close)
	return p
}

func (p *Plane) close() {
	p.router.Close()
	p.api.Close()
	p.grpc.Stop()
	p.mu.Lock()
	left := make([]*sandbox, 0, len(p.sandboxes))
	for _, sb := range p.sandboxes {
		left = append(left, sb)
	}
	p.sandboxes = map[string]*sandbox{}
	p.mu.Unlock()
	for _, sb := range left {
		sb.destroy()
	}
}

// Add makes the sandbox namespace/name with the given environment and
// returns its root directory. It is what a pod starting means here.
func (p *Plane) Add(namespace, name string, env map[string]string) string {
	dir, err := os.MkdirTemp("", "k8sfake-")
	if err != nil {
		p.t.Errorf("k8sfake: %v", err)
		return ""
	}
	sb := &sandbox{root: dir, env: env, procs: map[int32]*proc{}}
	p.mu.Lock()
	p.sandboxes[namespace+"/"+name] = sb
	p.mu.Unlock()
	return dir
}

// Remove ends the sandbox namespace/name: its processes are killed and its
// directory removed. It is what a pod's deletion means here.
func (p *Plane) Remove(namespace, name string) {
	p.mu.Lock()
	sb := p.sandboxes[namespace+"/"+name]
	delete(p.sandboxes, namespace+"/"+name)
	p.mu.Unlock()
	if sb != nil {
		sb.destroy()
	}
}

// Live lists the sandboxes that are running, as "namespace/name".
func (p *Plane) Live() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.sandboxes))
	for k := range p.sandboxes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Routed lists the routing headers of every request the router forwarded
// ("id/namespace/port").
func (p *Plane) Routed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.routed...)
}

func (p *Plane) lookup(namespace, name string) *sandbox {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sandboxes[namespace+"/"+name]
}

// sandbox is one fake pod: a root directory, its environment and its
// processes.
type sandbox struct {
	root string
	env  map[string]string

	mu    sync.Mutex
	procs map[int32]*proc
	dead  bool
}

// destroy kills every process and removes the directory.
func (sb *sandbox) destroy() {
	sb.mu.Lock()
	sb.dead = true
	procs := make([]*proc, 0, len(sb.procs))
	for _, pr := range sb.procs {
		procs = append(procs, pr)
	}
	sb.mu.Unlock()
	for _, pr := range procs {
		pr.signal(syscall.SIGKILL)
		<-pr.done
	}
	_ = os.RemoveAll(sb.root)
}

// environ is a process's environment: PATH, HOME, the pod's variables,
// then the request's.
func (sb *sandbox) environ(extra map[string]string) []string {
	env := map[string]string{"PATH": os.Getenv("PATH"), "HOME": sb.root}
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

// isDNSLabel is the router's check of X-Sandbox-ID and X-Sandbox-Namespace.
func isDNSLabel(s string) bool {
	if s == "" || len(s) > 63 || strings.HasPrefix(s, "-") || strings.HasSuffix(s, "-") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
