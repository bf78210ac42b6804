package redisstore_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/computemw/quota"
	"github.com/computemw/kit/computemw/ratelimit"
	"github.com/computemw/kit/stores/redisstore"
)

// redisAddr is the shared Redis of the test machine.
func redisAddr() string {
	if a := os.Getenv("COMPUTEMW_TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// client connects to the shared Redis, skipping (failing under CI) when it
// is not there, and deletes the keys under namespace at cleanup.
func client(t *testing.T, namespace string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: redisAddr(), DialTimeout: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := c.Ping(ctx).Err()
	computemwtest.Require(t, err == nil, fmt.Sprintf("redis not reachable at %s: %v", redisAddr(), err))
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, namespace+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		c.Close()
	})
	return c
}

func TestQuotaStore(t *testing.T) {
	computemwtest.QuotaStoreSuite(t, func(t *testing.T, ns string) quota.Store {
		return redisstore.New(client(t, ns), ns)
	})
}

// TestSharedQuota runs two kits on two Redis connections, as two
// instances.
func TestSharedQuota(t *testing.T) {
	computemwtest.SharedQuotaSuite(t, func(t *testing.T, ns string) quota.Store {
		return redisstore.New(client(t, ns), ns)
	})
}

func TestSharedRateLimit(t *testing.T) {
	computemwtest.SharedRateSuite(t, func(t *testing.T, ns string) limiter.Store {
		st, err := redisstore.NewRateStore(context.Background(), client(t, ns), ns)
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func TestDurable(t *testing.T) {
	computemwtest.DurableQuotaSuite(t, func(t *testing.T, ns string) (quota.Store, func() error) {
		c := client(t, ns)
		return redisstore.New(c, ns), c.Close
	})
}

// redisServer is a redis-server of the test's own, on a free loopback
// port: the one test that stops Redis never touches the shared one.
type redisServer struct {
	port string
	cmd  *exec.Cmd
}

func startRedis(t *testing.T, port string) *redisServer {
	t.Helper()
	const bin = "/usr/bin/redis-server"
	_, err := os.Stat(bin)
	computemwtest.Require(t, err == nil, "redis-server is not installed at "+bin)
	if port == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port = fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
	}
	s := &redisServer{port: port}
	s.cmd = exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	// Ready when it says so on stdout.
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				ready <- true
				_, _ = io.Copy(io.Discard, out)
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("redis-server on port %s exited before it was ready", port)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("redis-server on port %s not ready after 10s", port)
	}
	return s
}

// stop kills the server and waits for it to be gone.
func (s *redisServer) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// TestRedisDown kills Redis under a kit whose rate limits and quotas live
// there: requests fail closed with 503 (no panic, no sandbox), and the
// kit recovers once Redis is back.
func TestRedisDown(t *testing.T) {
	srv := startRedis(t, "")
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + srv.port, DialTimeout: 10 * time.Second,
		ReadTimeout: 10 * time.Second, MaxRetries: 1})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	rates, err := redisstore.NewRateStore(ctx, rdb, "rate")
	if err != nil {
		t.Fatal(err)
	}
	rl, err := ratelimit.New(ratelimit.Config{Store: rates,
		Tiers: map[string]limiter.Rate{"free": {Period: time.Hour, Limit: 1000}}})
	if err != nil {
		t.Fatal(err)
	}
	q, err := quota.New(quota.Config{Store: redisstore.New(rdb, "quota"),
		Plans: map[string]quota.Limits{"free": {Executions: 1000}}})
	if err != nil {
		t.Fatal(err)
	}
	kit, fake := computemwtest.MeteredKit(t, computemw.Config{Policies: []computemw.Policy{rl, q}, Hooks: []*computemw.Hooks{q.Hooks()}}, computemwtest.Measured)
	pctx := computemw.WithPrincipal(ctx, computemw.Principal{ID: "alice", Plan: "free"})
	exec := func() *httpapi.Response {
		return computemwtest.ServePath(pctx, kit, http.MethodPost, "/exec", `{"command":"echo hi"}`, nil)
	}
	if r := exec(); r.Status != 200 {
		t.Fatalf("with Redis up: %d %s", r.Status, r.Body)
	}

	srv.stop()
	created := fake.Created()
	for i := range 3 {
		r := exec()
		if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), `"UNAVAILABLE"`) {
			t.Fatalf("request %d with Redis down: %d %s", i+1, r.Status, r.Body)
		}
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
	}
	if fake.Created() != created {
		t.Error("a sandbox was created with Redis down")
	}
	// Usage is unavailable too, not a 500.
	if r := computemwtest.ServePath(pctx, kit, http.MethodGet, "/usage", "", nil); r.Status != http.StatusServiceUnavailable {
		t.Errorf("usage with Redis down: %d %s", r.Status, r.Body)
	}

	startRedis(t, srv.port)
	// The client redials; the first requests may still meet dead pooled
	// connections.
	var last *httpapi.Response
	for range 10 {
		if last = exec(); last.Status == 200 {
			break
		}
	}
	if last.Status != 200 {
		t.Fatalf("after Redis came back: %d %s", last.Status, last.Body)
	}
}
