package cloudflare_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/cloudflare"
	"github.com/computemw/kit/providers/cloudflare/cloudflarefake"
	"github.com/computemw/kit/stores/redisstore"
)

func redisAddr() string {
	if a := os.Getenv("COMPUTEMW_TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// redisClient connects to the shared Redis, skipping (failing under CI)
// when it is not there, and deletes the keys under namespace at cleanup.
func redisClient(t *testing.T, namespace string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: redisAddr(), DialTimeout: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := c.Ping(ctx).Err()
	if err != nil {
		c.Close()
	}
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

// instance is one kit, with its own provider on the fake and its own Redis
// connection, behind its own HTTP server.
type instance struct {
	t    *testing.T
	url  string
	stop func()
}

func startInstance(t *testing.T, f *cloudflarefake.Server, ns, id string) instance {
	t.Helper()
	p, err := cloudflare.New(f.Options())
	if err != nil {
		t.Fatal(err)
	}
	store := redisstore.NewSessionStore(redisClient(t, ns), ns)
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{p}, SessionStore: store, InstanceID: id})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit)
	srv := httptest.NewServer(mux)
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := kit.Close(ctx); err != nil {
			t.Errorf("kit %s: Close: %v", id, err)
		}
	}
	t.Cleanup(stop)
	return instance{t: t, url: srv.URL + "/api", stop: stop}
}

func (in instance) do(method, path, body string) (int, map[string]any) {
	in.t.Helper()
	req, err := http.NewRequest(method, in.url+path, strings.NewReader(body))
	if err != nil {
		in.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if resp.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			in.t.Fatalf("%s %s: %d, decoding: %v", method, path, resp.StatusCode, err)
		}
	}
	return resp.StatusCode, out
}

// Two kit instances sharing Redis serve one session of a Cloudflare
// sandbox: made on one, used and deleted through the other, which attaches
// to it by ID; the session survives the instance that made it.
func TestScaleOutOverRedis(t *testing.T) {
	f := cloudflarefake.New(t)
	ns := computemwtest.Namespace()
	one := startInstance(t, f, ns, "one")
	two := startInstance(t, f, ns, "two")
	t.Cleanup(func() { f.AssertNoneLive(t) })

	code, body := one.do("POST", "/sandboxes", `{}`)
	if code != 201 || body["provider"] != "cloudflare" {
		t.Fatalf("create on one: %d %v", code, body)
	}
	id := body["sandboxId"].(string)
	code, body = two.do("POST", "/sandboxes/"+id+"/exec", `{"command":"echo served by two > f.txt; cat f.txt"}`)
	if code != 200 || body["output"] != "served by two\n" {
		t.Fatalf("exec on two: %d %v", code, body)
	}
	code, body = one.do("POST", "/sandboxes/"+id+"/files", `{"action":"read","path":"f.txt"}`)
	if code != 200 || body["content"] != "served by two\n" {
		t.Errorf("read on one what two wrote: %d %v", code, body)
	}
	// The instance that made the session shuts down; the other serves it.
	one.stop()
	if live := f.Live(); len(live) != 1 || live[0] != id {
		t.Fatalf("after one shut down: live %v, want %s", live, id)
	}
	code, body = two.do("POST", "/sandboxes/"+id+"/exec", `{"command":"cat f.txt"}`)
	if code != 200 || body["output"] != "served by two\n" {
		t.Errorf("exec on two after one shut down: %d %v", code, body)
	}
	if code, body := two.do("DELETE", "/sandboxes/"+id, ``); code != 204 {
		t.Fatalf("delete on two: %d %v", code, body)
	}
	if live := f.Live(); len(live) != 0 {
		t.Errorf("after the delete: live %v", live)
	}
	if code, _ := two.do("POST", "/sandboxes/"+id+"/exec", `{"command":"true"}`); code != 404 {
		t.Errorf("exec after the delete: %d, want 404", code)
	}
}
