// Package scaleouttest checks that kit instances sharing a
// computemw.SessionStore serve each other's sessions: two kits behind real
// HTTP servers, one contract fake of a remote provider (Daytona, E2B, Modal) that
// both reach, and a store of the implementation under test.
package scaleouttest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/providers/daytona"
	"github.com/computemw/kit/providers/daytona/daytonafake"
	"github.com/computemw/kit/providers/e2b"
	"github.com/computemw/kit/providers/e2b/e2bfake"
	"github.com/computemw/kit/providers/modal"
	"github.com/computemw/kit/providers/modal/modalfake"
)

// remote is a contract fake both instances reach: a new provider on it
// for each instance, its books of live sandboxes, and its name.
type remote struct {
	name        string
	newProvider func(t *testing.T) computemw.Provider
	live        func() []string
}

func daytonaRemote(t *testing.T) remote {
	fake := daytonafake.New(t, daytonafake.Options{})
	return remote{name: "daytona", live: fake.Live, newProvider: func(t *testing.T) computemw.Provider {
		p, err := daytona.New(daytona.Options{APIKey: fake.APIKey, APIURL: fake.URL, PollInterval: 5 * time.Millisecond,
			MaxPollInterval: 50 * time.Millisecond, CleanupWindow: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}}
}

func e2bRemote(t *testing.T) remote {
	fake := e2bfake.New(t)
	return remote{name: "e2b", live: fake.Live, newProvider: func(t *testing.T) computemw.Provider {
		p, err := e2b.New(fake.Options())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}}
}

func modalRemote(t *testing.T) remote {
	fake := modalfake.New(t, modalfake.Options{})
	return remote{name: "modal", live: fake.Live, newProvider: func(t *testing.T) computemw.Provider {
		p, err := modal.New(modal.Options{TokenID: fake.TokenID, TokenSecret: fake.TokenSecret, ServerURL: fake.URL,
			CleanupWindow: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}}
}

// instance is one kit behind its own HTTP server.
type instance struct {
	t   *testing.T
	url string
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

// start runs a kit with its own Daytona provider on the fake and the
// store, behind an HTTP server; both are closed by stop, or at cleanup.
func start(t *testing.T, r remote, store computemw.SessionStore, id string) (in instance, stop func()) {
	t.Helper()
	p := r.newProvider(t)
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{p}, SessionStore: store, InstanceID: id,
		MaxSessionsPerPrincipal: 2})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit)
	srv := httptest.NewServer(mux)
	var once sync.Once
	stop = func() {
		once.Do(func() {
			srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := kit.Close(ctx); err != nil {
				t.Errorf("kit %s: Close: %v", id, err)
			}
		})
	}
	t.Cleanup(stop)
	return instance{t: t, url: srv.URL + "/api"}, stop
}

// Run creates a session on one instance, uses it (exec), keeps it alive
// and destroys it through the other, and checks that the per-caller
// session limit (2) holds across both, on Daytona's, E2B's and Modal's fakes. open
// opens the store under test; two opens of one namespace share their data.
func Run(t *testing.T, open computemwtest.OpenSessionStore) {
	for _, mk := range []func(*testing.T) remote{daytonaRemote, e2bRemote, modalRemote} {
		r := mk(t)
		t.Run(r.name, func(t *testing.T) { run(t, r, open) })
	}
}

func run(t *testing.T, fake remote, open computemwtest.OpenSessionStore) {
	ns := computemwtest.Namespace()
	one, stopOne := start(t, fake, open(t, ns), "one")
	two, _ := start(t, fake, open(t, ns), "two")
	t.Cleanup(func() {
		if live := fake.live(); len(live) != 0 {
			t.Errorf("sandboxes left on the fake: %v", live)
		}
	})

	code, body := one.do("POST", "/sandboxes", `{"metadata":{"course":"go"}}`)
	if code != 201 || body["provider"] != fake.name {
		t.Fatalf("create on one: %d %v", code, body)
	}
	id := body["sandboxId"].(string)
	created, _ := time.Parse(time.RFC3339Nano, body["expiresAt"].(string))

	code, body = two.do("POST", "/sandboxes/"+id+"/exec", `{"command":"echo served by two > f.txt; cat f.txt"}`)
	if code != 200 || body["output"] != "served by two\n" {
		t.Fatalf("exec on two: %d %v", code, body)
	}
	code, body = one.do("POST", "/sandboxes/"+id+"/files", `{"action":"read","path":"f.txt"}`)
	if code != 200 || body["content"] != "served by two\n" {
		t.Errorf("read on one what two wrote: %d %v", code, body)
	}
	code, body = two.do("POST", "/sandboxes/"+id+"/keepalive", ``)
	renewed, _ := time.Parse(time.RFC3339Nano, fmtString(body["expiresAt"]))
	if code != 200 || renewed.Before(created) || fmtString(body["metadata"].(map[string]any)["course"]) != "go" {
		t.Errorf("keepalive on two: %d %v (expiry at creation %v)", code, body, created)
	}
	if code, body := two.do("GET", "/sandboxes", ``); code != 200 || len(body["sandboxes"].([]any)) != 1 {
		t.Errorf("list on two: %d %v", code, body)
	}

	// The per-caller limit holds across instances.
	code, body = one.do("POST", "/sandboxes", ``)
	if code != 201 {
		t.Fatalf("second session, on one: %d %v", code, body)
	}
	second := body["sandboxId"].(string)
	for _, in := range []instance{one, two} {
		if code, body := in.do("POST", "/sandboxes", ``); code != 429 || body["code"] != "RATE_LIMITED" {
			t.Errorf("third session: %d %v", code, body)
		}
	}

	if code, body := two.do("DELETE", "/sandboxes/"+id, ``); code != 204 {
		t.Fatalf("delete on two: %d %v", code, body)
	}
	if code, body := one.do("POST", "/sandboxes/"+id+"/exec", `{"command":"echo hi"}`); code != 404 {
		t.Errorf("exec on one after the delete on two: %d %v", code, body)
	}
	if n := len(fake.live()); n != 1 {
		t.Errorf("%d sandboxes on the fake, want 1", n)
	}
	// An instance that shuts down leaves the sessions it made to the
	// others.
	stopOne()
	if code, body := two.do("POST", "/sandboxes/"+second+"/exec", `{"command":"echo still here"}`); code != 200 || body["output"] != "still here\n" {
		t.Errorf("exec on two after one shut down: %d %v", code, body)
	}
	if code, body := two.do("DELETE", "/sandboxes/"+second, ``); code != 204 {
		t.Errorf("delete on two of one's session: %d %v", code, body)
	}
	if n := len(fake.live()); n != 0 {
		t.Errorf("%d sandboxes on the fake, want 0", n)
	}
}

func fmtString(v any) string {
	s, _ := v.(string)
	return s
}
