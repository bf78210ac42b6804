package modal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/modal"
	"github.com/computemw/kit/providers/modal/modalfake"
	"github.com/computemw/kit/stores/redisstore"
)

// Two kit instances share a Redis session store and one Modal: a session
// made on one is used and deleted through the other, which attaches to
// the sandbox by its ID.
func TestTwoInstancesShareSessions(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DialTimeout: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := rdb.Ping(ctx).Err()
	computemwtest.Require(t, err == nil, fmt.Sprintf("redis not reachable at 127.0.0.1:6379: %v", err))
	ns := computemwtest.Namespace()
	t.Cleanup(func() {
		iter := rdb.Scan(context.Background(), 0, ns+"*", 1000).Iterator()
		for iter.Next(context.Background()) {
			rdb.Del(context.Background(), iter.Val())
		}
		rdb.Close()
	})
	fake := modalfake.New(t, modalfake.Options{})
	start := func(id string) string {
		p := providerOn(t, fake, modal.Options{})
		kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{p},
			SessionStore: redisstore.NewSessionStore(rdb, ns), InstanceID: id})
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
		return srv.URL + "/api"
	}
	one, two := start("one"), start("two")
	do := func(method, url, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if resp.StatusCode != http.StatusNoContent {
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				t.Fatalf("%s %s: %d: %v", method, url, resp.StatusCode, err)
			}
		}
		return resp.StatusCode, out
	}

	code, body := do("POST", one+"/sandboxes", `{}`)
	if code != 201 || body["provider"] != "modal" {
		t.Fatalf("create on one: %d %v", code, body)
	}
	id := body["sandboxId"].(string)
	code, body = do("POST", two+"/sandboxes/"+id+"/exec", `{"command":"echo served by two > f.txt; cat f.txt"}`)
	if code != 200 || body["output"] != "served by two\n" {
		t.Fatalf("exec on two: %d %v", code, body)
	}
	code, body = do("POST", one+"/sandboxes/"+id+"/files", `{"action":"read","path":"f.txt"}`)
	if code != 200 || body["content"] != "served by two\n" {
		t.Errorf("read on one what two wrote: %d %v", code, body)
	}
	if code, body := do("DELETE", two+"/sandboxes/"+id, ``); code != 204 {
		t.Fatalf("delete on two: %d %v", code, body)
	}
	if code, body := do("POST", one+"/sandboxes/"+id+"/exec", `{"command":"echo hi"}`); code != 404 {
		t.Errorf("exec on one after the delete on two: %d %v", code, body)
	}
	if live := fake.Live(); len(live) != 0 {
		t.Errorf("sandboxes on the fake after the delete: %v", live)
	}
}
