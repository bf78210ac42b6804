package kubernetes_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apitesting "k8s.io/apiextensions-apiserver/pkg/cmd/server/testing"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	etcdtesting "k8s.io/apiserver/pkg/storage/etcd3/testing"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// startAPIServer starts etcd and the API server for t (stopped at its
// cleanup) and installs agent-sandbox's CRDs, waiting until each is
// Established. It returns the server's (privileged loopback) config.
func startAPIServer(t *testing.T) *rest.Config {
	t.Helper()
	// The embedded etcd, named by flags: the server completes its own
	// storage configuration (codecs) from them.
	etcd, _ := etcdtesting.NewUnsecuredEtcd3TestClientServer(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	// The delegated authentication and authorization need a kubeconfig to
	// start; nothing is ever sent to it.
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters:
- cluster: {server: "http://127.1.2.3:12345"}
  name: none
contexts:
- context: {cluster: none, user: none}
  name: none
current-context: none
users:
- name: none
  user: {username: none, password: none}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := apitesting.StartTestServer(t, nil, []string{
		"--etcd-servers", strings.Join(etcd.V3Client.Endpoints(), ","),
		"--etcd-prefix", "/computemw-test",
		"--authentication-skip-lookup",
		"--authentication-kubeconfig", kubeconfig,
		"--authorization-kubeconfig", kubeconfig,
		"--kubeconfig", kubeconfig,
		"--enable-priority-and-fairness=false",
		"--disable-admission-plugins", "NamespaceLifecycle,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,MutatingAdmissionPolicy",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.TearDownFn)
	installCRDs(t, srv.ClientConfig)
	return srv.ClientConfig
}

// agentSandboxDir is the agent-sandbox module's directory.
func agentSandboxDir(t *testing.T) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/agent-sandbox").Output()
	if err != nil || len(out) == 0 {
		t.Fatalf("go list -m sigs.k8s.io/agent-sandbox: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// installCRDs creates the CRDs of agent-sandbox's k8s/crds and waits for
// each to be Established (a watch, from the create's resourceVersion).
func installCRDs(t *testing.T, cfg *rest.Config) {
	t.Helper()
	c, err := apiextclient.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(agentSandboxDir(t), "k8s", "crds", "*.yaml"))
	if err != nil || len(files) != 4 {
		t.Fatalf("agent-sandbox CRDs: %v %v", files, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(b, &crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		made, err := c.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, &crd, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		w, err := c.ApiextensionsV1().CustomResourceDefinitions().Watch(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("metadata.name", made.Name).String(), ResourceVersion: made.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		if !established(made) {
			waitEstablished(t, ctx, w, made.Name)
		}
		w.Stop()
	}
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

func waitEstablished(t *testing.T, ctx context.Context, w watch.Interface, name string) {
	for {
		select {
		case <-ctx.Done():
			t.Fatalf("CRD %s not Established: %v", name, ctx.Err())
		case ev := <-w.ResultChan():
			if crd, ok := ev.Object.(*apiextensionsv1.CustomResourceDefinition); ok && established(crd) {
				return
			}
		}
	}
}

// call is one request the provider sent to the API server, as RBAC sees
// it: API group, resource (with its subresource) and verb.
type call struct{ group, resource, verb string }

func (c call) String() string { return fmt.Sprintf("%s/%s %s", c.group, c.resource, c.verb) }

// recorder records the calls sent through the configs it wraps.
type recorder struct {
	mu    sync.Mutex
	calls map[call]int
	bad   []string // requests it could not read as a namespaced resource call
}

// wrap returns a copy of cfg whose requests are recorded.
func (r *recorder) wrap(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			r.record(req)
			return next.RoundTrip(req)
		})
	})
	return c
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// record reads a request as RBAC does:
// /apis/{group}/{version}/namespaces/{ns}/{resource}[/{name}[/{subresource}]].
func (r *recorder) record(req *http.Request) {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls = map[call]int{}
	}
	if len(parts) < 6 || parts[0] != "apis" || parts[3] != "namespaces" {
		r.bad = append(r.bad, req.Method+" "+req.URL.Path)
		return
	}
	group, resource := parts[1], parts[5]
	named := len(parts) > 6
	if len(parts) > 7 {
		resource += "/" + parts[7]
	}
	var verb string
	switch req.Method {
	case http.MethodGet:
		switch {
		case req.URL.Query().Get("watch") == "true" || req.URL.Query().Get("watch") == "1":
			verb = "watch"
		case named:
			verb = "get"
		default:
			verb = "list"
		}
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
		if !named {
			verb = "deletecollection"
		}
	default:
		verb = strings.ToLower(req.Method)
	}
	r.calls[call{group, resource, verb}]++
}

func (r *recorder) snapshot() (map[call]int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[call]int, len(r.calls))
	for k, v := range r.calls {
		out[k] = v
	}
	return out, append([]string(nil), r.bad...)
}
