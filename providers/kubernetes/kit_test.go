package kubernetes_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/kubernetes/k8sfake"
	"github.com/computemw/kit/stores/redisstore"
)

// The whole path over real HTTP: stateless requests, each on a claim of
// its own, through the kit's governed path.
func TestKitOverNetHTTP(t *testing.T) {
	e := newEnv(t, nil)
	p := newProvider(t, e.options("pool"))
	base := k8sfake.Serve(t, computemw.Config{Providers: []computemw.Provider{p}}) + computemwtest.Prefix
	code, body := k8sfake.Call(t, "POST", base+"/exec", `{"command":"echo out; echo err >&2; echo $X; exit 2","env":{"X":"y"}}`)
	if code != 200 || body["output"] != "out\ny\n" || body["stderr"] != "err\n" || body["exitCode"] != 2.0 || body["provider"] != "kubernetes" {
		t.Errorf("/exec: %d %v", code, body)
	}
	code, body = k8sfake.Call(t, "POST", base+"/exec", `{"command":"cat","stdin":"from stdin"}`)
	if code != 200 || body["output"] != "from stdin" {
		t.Errorf("/exec with stdin: %d %v", code, body)
	}
	code, body = k8sfake.Call(t, "POST", base+"/exec", `{"command":"sleep 1000","timeout":300}`)
	if code != 408 || body["code"] != "TIMEOUT" {
		t.Errorf("/exec past its timeout: %d %v", code, body)
	}
	code, body = k8sfake.Call(t, "POST", base+"/execute", `{"language":"cobol","code":"x"}`)
	if code != 400 || body["code"] != "EXECUTION_ERROR" {
		t.Errorf("/execute in an unknown language: %d %v", code, body)
	}
	for _, r := range e.plane.Routed() {
		if !strings.HasSuffix(r, "/"+namespace+"/8080") || !strings.HasPrefix(r, "pool-") {
			t.Errorf("routed %q: want the claim's sandbox (pool-...), namespace %s, port 8080", r, namespace)
		}
	}
}

// The kit's WebSocket protocol over the provider, through sandboxd and
// through pods/exec.
func TestWebSocket(t *testing.T) {
	e := newEnv(t, nil)
	k8sfake.WebSocketSuite(t, newProvider(t, e.options("pool")))
}

func TestWebSocketPodExec(t *testing.T) {
	e := newEnv(t, nil)
	k8sfake.WebSocketSuite(t, newProvider(t, e.podExecOptions("pool")))
	for _, x := range e.plane.Execs() {
		if !strings.HasPrefix(x, namespace+"/pool-") {
			t.Errorf("exec in %q, want the claim's sandbox's pod", x)
		}
	}
}

// Two kit instances, each with its own provider (two replicas), share a
// session through Redis.
func TestSharedSessionThroughRedis(t *testing.T) {
	store := redisSessionStore(t)
	e := newEnv(t, nil)
	p1 := newProvider(t, e.options("pool"))
	o := e.options("pool")
	o.Instance = "kit-1"
	p2 := newProvider(t, o)
	k8sfake.SharedSessionSuite(t, p1, p2, store)
}

// redisSessionStore is a session store on the test machine's Redis
// (skipping, or failing under CI, without it), under a key prefix of its
// own that cleanup deletes.
func redisSessionStore(t *testing.T) computemw.SessionStore {
	addr := os.Getenv("COMPUTEMW_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := c.Ping(ctx).Err()
	if err != nil {
		c.Close()
	}
	computemwtest.Require(t, err == nil, fmt.Sprintf("redis not reachable at %s: %v", addr, err))
	prefix := fmt.Sprintf("computemw-k8s-test-%d:", time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		c.Close()
	})
	return redisstore.NewSessionStore(c, prefix)
}
