package kubernetes_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	sandboxclient "sigs.k8s.io/agent-sandbox/clients/k8s/clientset/versioned"
	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/kubernetes"
	"github.com/computemw/kit/providers/kubernetes/k8sfake"
	"github.com/computemw/kit/stores/redisstore"
)

// cluster is the API server shared by the subtests, each in a namespace
// of its own.
type cluster struct {
	cfg  *rest.Config // unrecorded: the test's and the fake controller's
	rec  *recorder    // the provider's calls
	sbx  sandboxclient.Interface
	ext  extclient.Interface
	nsID atomic.Int64
}

// TestAgainstAPIServer runs the provider against the in-process API
// server: the conformance suite, the WebSocket suite, two kit instances
// sharing a session through Redis, cancelled creates; after each, no
// claim or Sandbox is left. Last, the example manifests are decoded and
// their Role compared with every call the provider made.
func TestAgainstAPIServer(t *testing.T) {
	start := time.Now()
	cfg := startAPIServer(t)
	t.Logf("API server with agent-sandbox's CRDs up in %s", time.Since(start).Round(time.Millisecond))
	c := &cluster{cfg: cfg, rec: &recorder{}}
	var err error
	if c.sbx, err = sandboxclient.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if c.ext, err = extclient.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}

	t.Run("ProviderSuite", func(t *testing.T) {
		for _, pool := range []string{"python-pool", ""} {
			name := "WarmPool"
			if pool == "" {
				name = "PodTemplate"
			}
			t.Run(name, func(t *testing.T) {
				computemwtest.ProviderSuite(t, func(t *testing.T) computemw.Provider {
					ns, plane := c.env(t, nil)
					o := c.options(ns, plane, pool)
					o.MaxOutputBytes = 64 << 10
					return newProvider(t, o)
				}, computemwtest.ProviderSuiteOptions{
					MaxOutputBytes: 64 << 10,
					Languages:      map[string]computemwtest.ProgramCase{"sh": {Code: "echo $((6*7))", Stdout: "42\n"}},
				})
			})
		}
	})
	t.Run("WebSocket", func(t *testing.T) {
		ns, plane := c.env(t, nil)
		k8sfake.WebSocketSuite(t, newProvider(t, c.options(ns, plane, "python-pool")))
	})
	t.Run("SharedSessionThroughRedis", func(t *testing.T) {
		store := redisSessionStore(t)
		ns, plane := c.env(t, nil)
		o1, o2 := c.options(ns, plane, "python-pool"), c.options(ns, plane, "python-pool")
		o2.Instance = "kit-1"
		k8sfake.SharedSessionSuite(t, newProvider(t, o1), newProvider(t, o2), store)
	})
	t.Run("Health", func(t *testing.T) {
		for _, pool := range []string{"python-pool", ""} {
			t.Run("pool="+pool, func(t *testing.T) {
				ns, plane := c.env(t, nil)
				base := k8sfake.Serve(t, computemw.Config{Providers: []computemw.Provider{newProvider(t, c.options(ns, plane, pool))}})
				// The Deployment's readiness probe, on the kit's route group.
				code, body := k8sfake.Call(t, "GET", base+readinessPath(t), "")
				if code != 200 || body["status"] != "healthy" {
					t.Errorf("health: %d %v", code, body)
				}
			})
		}
	})
	t.Run("Starter", func(t *testing.T) {
		// The starter's own calls are not the provider's under test; it
		// reaches the API server with the same credentials, unrecorded.
		ns, _ := c.env(t, nil)
		checkStarter(t, cfg, ns)
	})
	t.Run("CancelledCreate", func(t *testing.T) {
		for _, pool := range []string{"python-pool", ""} {
			t.Run("pool="+pool, func(t *testing.T) {
				created := make(chan string, 1)
				hold := func(name string) bool {
					select {
					case created <- name:
					default:
					}
					return true
				}
				ns, plane := c.env(t, hold)
				p := newProvider(t, c.options(ns, plane, pool))
				ctx, cancel := context.WithCancel(t.Context())
				go func() {
					<-created
					cancel()
				}()
				if _, err := p.Create(ctx, computemw.CreateOptions{}); !errors.Is(err, context.Canceled) {
					t.Fatalf("Create: %v, want context.Canceled", err)
				}
				c.checkEmpty(t, ns)
			})
		}
	})
	t.Run("Manifests", func(t *testing.T) { checkManifests(t, c.rec) })
}

// env makes a namespace name, the fake data plane and the fake controller
// for t; t's cleanup stops them and checks that no claim or Sandbox is
// left there.
func (c *cluster) env(t *testing.T, hold func(string) bool) (string, *k8sfake.Plane) {
	t.Helper()
	ns := fmt.Sprintf("test-%d", c.nsID.Add(1))
	plane := k8sfake.New(t)
	ctrl := &k8sfake.Controller{Sandboxes: c.sbx, Extensions: c.ext, Namespace: ns, Plane: plane, Hold: hold}
	if err := ctrl.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctrl.Stop()
		c.checkEmpty(t, ns)
	})
	return ns, plane
}

func (c *cluster) checkEmpty(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	cl, err := c.ext.ExtensionsV1beta1().SandboxClaims(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sl, err := c.sbx.AgentsV1beta1().Sandboxes(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range cl.Items {
		t.Errorf("claim %s/%s left", ns, o.Name)
	}
	for _, o := range sl.Items {
		t.Errorf("sandbox %s/%s left", ns, o.Name)
	}
}

// options are the provider's options in namespace ns: through the
// recorded config, at the fake data plane.
func (c *cluster) options(ns string, plane *k8sfake.Plane, pool string) kubernetes.Options {
	o := kubernetes.Options{
		Namespace:   ns,
		RESTConfig:  c.rec.wrap(c.cfg),
		RouterURL:   plane.RouterURL,
		ProcessPort: plane.ProcessPort,
		Instance:    "kit-0",
		WarmPool:    pool,
	}
	if pool == "" {
		o.PodTemplate = k8sfake.PodTemplate()
	}
	return o
}

func newProvider(t *testing.T, o kubernetes.Options) *kubernetes.Provider {
	t.Helper()
	p, err := kubernetes.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// redisSessionStore is a session store on the test machine's Redis
// (skipping, or failing under CI, without it), under a key prefix of its
// own that cleanup deletes.
func redisSessionStore(t *testing.T) computemw.SessionStore {
	addr := os.Getenv("COMPUTEMW_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rc := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := rc.Ping(ctx).Err()
	if err != nil {
		rc.Close()
	}
	computemwtest.Require(t, err == nil, fmt.Sprintf("redis not reachable at %s: %v", addr, err))
	prefix := fmt.Sprintf("computemw-k8s-apiserver-test-%d:", time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rc.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rc.Del(ctx, iter.Val())
		}
		rc.Close()
	})
	return redisstore.NewSessionStore(rc, prefix)
}
