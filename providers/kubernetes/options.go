package kubernetes

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	sandboxclient "sigs.k8s.io/agent-sandbox/clients/k8s/clientset/versioned"
	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"
)

// Default values of [Options].
const (
	DefaultNamespace      = "default"
	DefaultReadyTimeout   = 2 * time.Minute
	DefaultLifetime       = 24 * time.Hour
	DefaultExecTimeout    = 5 * time.Minute
	DefaultMaxOutputBytes = 1 << 20
	DefaultMaxFileBytes   = 64 << 20
	DefaultFilesPort      = 8080
	DefaultProcessPort    = 9090
	DefaultContainer      = "sandbox"
)

// Options configure a [Provider]. With neither WarmPool nor PodTemplate set
// New fails: the provider needs to know what to run.
type Options struct {
	// Namespace holds every object the provider makes; default
	// DefaultNamespace, or the namespace of the kit's own pod when it runs
	// in a cluster.
	Namespace string
	// Kubeconfig is the path of a kubeconfig file; empty uses the
	// in-cluster configuration, else $KUBECONFIG, else ~/.kube/config.
	Kubeconfig string
	// RESTConfig, when set, is used as it is (Kubeconfig is ignored).
	RESTConfig *rest.Config

	// WarmPool names a SandboxWarmPool: each sandbox is a SandboxClaim on
	// it (CreateOptions.Template, when set, names another pool).
	WarmPool string
	// PodTemplate is the pod of a Sandbox made directly, when WarmPool is
	// empty. Its first container (or the one named Container) gets the
	// sandbox's env and resources.
	PodTemplate *corev1.PodTemplateSpec
	// Container is the container the daemon runs in; default the pod's
	// first container, else DefaultContainer.
	Container string
	// RuntimeClassName is the RuntimeClass (gVisor, Kata) of pods made from
	// PodTemplate; empty keeps the template's.
	RuntimeClassName string
	// Labels are added to every object the provider makes (and, for a
	// claim, to its pod).
	Labels map[string]string
	// Instance names this kit (its pod name in a Deployment) on the objects
	// it makes, so that Reap finds the ones a crashed instance left; default
	// $HOSTNAME.
	Instance string

	// Lifetime is the shutdown time given to each sandbox: the controller
	// deletes it that long after creation even if the kit never does.
	// Zero means DefaultLifetime (the kit's default longest session);
	// negative means none. Keep it at least the kit's
	// Config.MaxSessionLifetime, or sessions end early.
	Lifetime time.Duration
	// ReadyTimeout bounds the wait for a new sandbox to be Ready.
	ReadyTimeout time.Duration

	// RouterURL is the base URL of the agent-sandbox sandbox router
	// (e.g. http://sandbox-router-svc.agent-sandbox-system:8080); file
	// operations go through it. Empty sends them straight to the pod IP.
	RouterURL string
	// FilesPort is sandboxd's REST port (X-Sandbox-Port); default 8080.
	FilesPort int
	// ProcessPort is sandboxd's gRPC ProcessService port; default 9090.
	ProcessPort int
	// PodExec runs processes, terminals and file operations through the
	// API server's pods/exec (client-go remotecommand) instead of sandboxd,
	// for images without the daemon (see docs/kubernetes.md for what that
	// path can do). The Role then also needs create on pods/exec.
	PodExec bool
	// WorkDir is the working directory of the PodExec path; default
	// /workspace.
	WorkDir string

	// HTTPClient carries file operations; default a client of its own.
	HTTPClient *http.Client

	// ExecTimeout is the timeout of an execution that sets none.
	ExecTimeout time.Duration
	// MaxOutputBytes caps captured stdout and stderr each.
	MaxOutputBytes int64
	// MaxFileBytes caps ReadFile.
	MaxFileBytes int64

	// Clients, when set, are used instead of clients built from the
	// configuration (tests pass client-go fakes); PodExec still needs
	// RESTConfig.
	Clients *Clients
}

// Clients are the Kubernetes API clients the provider uses.
type Clients struct {
	// Sandboxes serves agents.x-k8s.io (Sandbox).
	Sandboxes sandboxclient.Interface
	// Extensions serves extensions.agents.x-k8s.io (SandboxClaim).
	Extensions extclient.Interface
}

func (o Options) withDefaults() Options {
	if o.Namespace == "" {
		o.Namespace = inClusterNamespace()
	}
	if o.Instance == "" {
		o.Instance, _ = os.Hostname()
	}
	if o.Lifetime == 0 {
		o.Lifetime = DefaultLifetime
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	if o.WorkDir == "" {
		o.WorkDir = "/workspace"
	}
	if o.FilesPort <= 0 {
		o.FilesPort = DefaultFilesPort
	}
	if o.ProcessPort <= 0 {
		o.ProcessPort = DefaultProcessPort
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if o.ExecTimeout <= 0 {
		o.ExecTimeout = DefaultExecTimeout
	}
	if o.MaxOutputBytes <= 0 {
		o.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = DefaultMaxFileBytes
	}
	return o
}

// inClusterNamespace is the namespace of the service account the kit runs
// as, or DefaultNamespace outside a cluster.
func inClusterNamespace() string {
	b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
	if err != nil || len(b) == 0 {
		return DefaultNamespace
	}
	return string(b)
}

// restConfig is the API server configuration the options name.
func (o Options) restConfig() (*rest.Config, error) {
	if o.RESTConfig != nil {
		return o.RESTConfig, nil
	}
	if o.Kubeconfig == "" {
		if c, err := rest.InClusterConfig(); err == nil {
			return c, nil
		}
		o.Kubeconfig = os.Getenv("KUBECONFIG")
		if o.Kubeconfig == "" {
			home, _ := os.UserHomeDir()
			o.Kubeconfig = filepath.Join(home, ".kube", "config")
		}
	}
	c, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", o.Kubeconfig, err)
	}
	return c, nil
}
