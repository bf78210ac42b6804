package vercel_test

import (
	"context"
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
	"github.com/computemw/kit/providers/vercel"
	"github.com/computemw/kit/providers/vercel/vercelfake"
	"github.com/computemw/kit/stores/redisstore"
)

// redisClient connects to the shared Redis (COMPUTEMW_TEST_REDIS_ADDR,
// default 127.0.0.1:6379), skipping (failing under CI) when it is not
// there, and deletes the keys under namespace at cleanup.
func redisClient(t *testing.T, namespace string) *redis.Client {
	t.Helper()
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

// instance is one kit, with its own Vercel provider and Redis connection,
// behind its own HTTP server.
type instance struct {
	t   *testing.T
	url string
}

func startInstance(t *testing.T, fake *vercelfake.Server, ns, id string) instance {
	t.Helper()
	p := providerOn(t, fake, vercel.Options{})
	store := redisstore.NewSessionStore(redisClient(t, ns), ns)
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{p}, SessionStore: store, InstanceID: id})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := kit.Close(ctx); err != nil {
			t.Errorf("kit %s: Close: %v", id, err)
		}
	})
	return instance{t: t, url: srv.URL + "/api"}
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
		_ = jsonDecode(resp, &out)
	}
	return resp.StatusCode, out
}

// Two kit instances sharing Redis and one Vercel: a session made on one
// is used (exec, files) and deleted through the other, which attaches to
// it by its ID; the sandbox is stopped on Vercel's side.
func TestTwoInstancesShareSessions(t *testing.T) {
	fake := vercelfake.New(t, vercelfake.Options{})
	t.Cleanup(func() {
		if live := fake.Live(); len(live) != 0 {
			t.Errorf("sandboxes left on the fake: %v", live)
		}
	})
	ns := computemwtest.Namespace()
	one := startInstance(t, fake, ns, "one")
	two := startInstance(t, fake, ns, "two")

	code, body := one.do("POST", "/sandboxes", `{"metadata":{"course":"go"}}`)
	if code != 201 || body["provider"] != "vercel" {
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
	if n := fake.Calls("getSession"); n == 0 {
		t.Error("two never attached to the session by its ID")
	}
	if code, body := two.do("DELETE", "/sandboxes/"+id, ``); code != 204 {
		t.Fatalf("delete on two: %d %v", code, body)
	}
	if live := fake.Live(); len(live) != 0 {
		t.Errorf("after the delete on two, live on Vercel: %v", live)
	}
	if code, body := one.do("POST", "/sandboxes/"+id+"/exec", `{"command":"echo hi"}`); code != 404 {
		t.Errorf("exec on one after the delete on two: %d %v", code, body)
	}
}
