package kubernetes_test

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	sandboxv1 "sigs.k8s.io/agent-sandbox/api/v1beta1"
	extv1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"
)

// manifestsDir is the repository's examples/kubernetes.
func manifestsDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "examples", "kubernetes")
}

// decodeManifests decodes every document of examples/kubernetes/*.yaml
// with client-go's scheme plus agent-sandbox's types, strictly (an
// unknown field is an error).
func decodeManifests(t *testing.T) []kruntime.Object {
	t.Helper()
	s := kruntime.NewScheme()
	for _, add := range []func(*kruntime.Scheme) error{clientgoscheme.AddToScheme, sandboxv1.AddToScheme, extv1.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	dec := serializer.NewCodecFactory(s, serializer.EnableStrict).UniversalDeserializer()
	files, err := filepath.Glob(filepath.Join(manifestsDir(), "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", manifestsDir(), err)
	}
	var objs []kruntime.Object
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range strings.Split(string(b), "\n---\n") {
			obj, _, err := dec.Decode([]byte(doc), nil, nil)
			if err != nil {
				t.Fatalf("%s, document %d: %v", filepath.Base(f), i+1, err)
			}
			objs = append(objs, obj)
		}
	}
	return objs
}

// readinessPath is the Deployment's readiness probe path.
func readinessPath(t *testing.T) string {
	for _, o := range decodeManifests(t) {
		if d, ok := o.(*appsv1.Deployment); ok {
			if p := d.Spec.Template.Spec.Containers[0].ReadinessProbe; p != nil && p.HTTPGet != nil {
				return p.HTTPGet.Path
			}
		}
	}
	t.Fatal("the Deployment has no HTTP readiness probe")
	return ""
}

// checkManifests decodes the manifests, checks they hang together (the
// Deployment runs as the ServiceAccount the RoleBinding binds to the
// namespaced Role; the warm pool names the template), and compares the
// Role with the calls the provider made: nothing missing, nothing extra.
func checkManifests(t *testing.T, rec *recorder) {
	var (
		role    *rbacv1.Role
		binding *rbacv1.RoleBinding
		sa      *corev1.ServiceAccount
		deploy  *appsv1.Deployment
		tpl     *extv1.SandboxTemplate
		pool    *extv1.SandboxWarmPool
	)
	for _, o := range decodeManifests(t) {
		switch o := o.(type) {
		case *rbacv1.Role:
			role = o
		case *rbacv1.RoleBinding:
			binding = o
		case *corev1.ServiceAccount:
			sa = o
		case *appsv1.Deployment:
			deploy = o
		case *extv1.SandboxTemplate:
			tpl = o
		case *extv1.SandboxWarmPool:
			pool = o
		default:
			t.Errorf("unexpected manifest %T (a namespaced Role only: nothing cluster-wide)", o)
		}
	}
	if role == nil || binding == nil || sa == nil || deploy == nil || tpl == nil || pool == nil {
		t.Fatalf("missing manifests: role %v binding %v sa %v deployment %v template %v pool %v",
			role != nil, binding != nil, sa != nil, deploy != nil, tpl != nil, pool != nil)
	}
	ns := role.Namespace
	if ns == "" || binding.Namespace != ns || sa.Namespace != ns || deploy.Namespace != ns || tpl.Namespace != ns || pool.Namespace != ns {
		t.Errorf("the manifests are not all in namespace %q", ns)
	}
	if binding.RoleRef.Kind != "Role" || binding.RoleRef.Name != role.Name || len(binding.Subjects) != 1 ||
		binding.Subjects[0].Kind != "ServiceAccount" || binding.Subjects[0].Name != sa.Name || binding.Subjects[0].Namespace != ns {
		t.Errorf("the RoleBinding does not bind the Role to the ServiceAccount: %+v", binding)
	}
	if deploy.Spec.Template.Spec.ServiceAccountName != sa.Name {
		t.Errorf("the Deployment runs as %q, not %q", deploy.Spec.Template.Spec.ServiceAccountName, sa.Name)
	}
	if pool.Spec.TemplateRef.Name != tpl.Name {
		t.Errorf("the warm pool names template %q, not %q", pool.Spec.TemplateRef.Name, tpl.Name)
	}
	var poolEnv string
	for _, e := range deploy.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "COMPUTEMW_K8S_WARM_POOL" {
			poolEnv = e.Value
		}
	}
	if poolEnv != pool.Name {
		t.Errorf("the Deployment claims from %q, the pool is %q", poolEnv, pool.Name)
	}

	granted := map[call]bool{}
	for _, r := range role.Rules {
		if len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
			t.Errorf("rule %+v: resource names or URLs", r)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					if g == "*" || res == "*" || v == "*" {
						t.Errorf("rule %+v has a wildcard", r)
					}
					granted[call{g, res, v}] = true
				}
			}
		}
	}
	used, unread := rec.snapshot()
	if len(unread) > 0 {
		t.Errorf("calls not of a namespaced resource: %v", unread)
	}
	if len(used) == 0 {
		t.Fatal("no call recorded")
	}
	var missing, extra, all []string
	for c, n := range used {
		all = append(all, c.String())
		if !granted[c] {
			missing = append(missing, c.String())
		}
		_ = n
	}
	for c := range granted {
		if used[c] == 0 {
			extra = append(extra, c.String())
		}
	}
	slices.Sort(all)
	t.Logf("the provider's calls: %s", strings.Join(all, ", "))
	if len(missing) > 0 {
		t.Errorf("the Role lacks what the provider used: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("the Role grants what the provider never used: %v", extra)
	}
}
