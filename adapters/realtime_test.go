package adapters_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/computemw/prommetrics"
	"github.com/computemw/kit/providers/local"
)

// localKit is a kit over a real local provider on a fresh base directory;
// at cleanup it checks that no workspace is left.
func localKit(t *testing.T, cfg computemw.Config) *computemw.Kit {
	t.Helper()
	_, err := exec.LookPath("bwrap")
	computemwtest.Require(t, err == nil, "bubblewrap (bwrap) is not installed")
	base, err := os.MkdirTemp("", "computemw-adapters-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o711); err != nil {
		t.Fatal(err)
	}
	// No warm pool: these tests count goroutines and sandboxes, and the
	// pool's ready sandboxes hold some of each (it has tests of its own).
	prov, err := local.New(local.Config{BaseDir: base, Logger: slog.New(slog.DiscardHandler), WarmPool: local.PoolConfig{Size: -1}})
	if err != nil {
		t.Fatalf("local.New: %v", err)
	}
	cfg.Providers = []computemw.Provider{prov}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = prommetrics.New(prommetrics.Options{})
	}
	kit, err := computemw.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := kit.Close(ctx); err != nil {
			t.Errorf("kit.Close: %v", err)
		}
		left, _ := filepath.Glob(filepath.Join(base, "*"))
		// The build cache of compiled languages is meant to outlive
		// sandboxes.
		left = slices.DeleteFunc(left, func(p string) bool { return p == filepath.Join(base, "buildcache") })
		if len(left) != 0 {
			t.Errorf("left behind: %v", left)
		}
		os.RemoveAll(base)
	})
	return kit
}

// wsClient is a test WebSocket client of the kit's protocol.
type wsClient struct {
	t   *testing.T
	ctx context.Context
	c   *websocket.Conn
}

func dialWS(t *testing.T, base string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+computemwtest.Prefix+"/ws", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: t, ctx: ctx, c: c}
}

func (w *wsClient) send(m httpapi.WSMessage) {
	w.t.Helper()
	b, _ := json.Marshal(m)
	if err := w.c.Write(w.ctx, websocket.MessageText, b); err != nil {
		w.t.Fatalf("send: %v", err)
	}
}

func (w *wsClient) next() httpapi.WSMessage {
	w.t.Helper()
	_, b, err := w.c.Read(w.ctx)
	if err != nil {
		w.t.Fatalf("read: %v", err)
	}
	var m httpapi.WSMessage
	if err := json.Unmarshal(b, &m); err != nil {
		w.t.Fatalf("%s: %v", b, err)
	}
	if m.Type == "error" {
		w.t.Fatalf("server error: %s %s", m.Code, m.Message)
	}
	return m
}

// until reads messages of typ, joining their data, until it contains want.
func (w *wsClient) until(typ, want string) string {
	w.t.Helper()
	var all strings.Builder
	for !strings.Contains(all.String(), want) {
		m := w.next()
		if m.Type != typ {
			w.t.Fatalf("got %+v while waiting for %q in %s", m, want, typ)
		}
		all.WriteString(m.Data)
	}
	return all.String()
}

// TestRealtime drives real sandboxes over every framework's WebSocket:
// output arrives line by line as it is produced, stdin reaches the
// program, a terminal is a terminal and follows resizes, and closing the
// socket mid-run leaves no process or workspace.
func TestRealtime(t *testing.T) {
	for _, a := range adapters {
		t.Run(a.Name, func(t *testing.T) {
			kit := localKit(t, computemw.Config{})
			ws := dialWS(t, a.Start(t, kit))
			ws.send(httpapi.WSMessage{Type: "create-sandbox"})
			if m := ws.next(); m.Type != "sandbox-ready" {
				t.Fatalf("got %+v", m)
			}

			// Each line arrives as its own message while the command runs:
			// the command prints the next one only after the test got
			// this one and answered on stdin.
			ws.send(httpapi.WSMessage{Type: "execute", Command: "for i in 1 2 3 4 5; do echo $i; read x; done"})
			for i := 1; i <= 5; i++ {
				if m := ws.next(); m.Type != "output" || m.Data != string(rune('0'+i))+"\n" {
					t.Fatalf("line %d: %+v", i, m)
				}
				ws.send(httpapi.WSMessage{Type: "stdin", Data: "\n"})
			}
			if m := ws.next(); m.Type != "execution-complete" || *m.ExitCode != 0 {
				t.Fatalf("got %+v", m)
			}

			// The program waits for input sent only after its first line
			// arrived: without live streaming and stdin this never ends.
			ws.send(httpapi.WSMessage{Type: "execute", Language: "python", Code: "print('first', flush=True)\nprint('got', input())"})
			ws.until("output", "first\n")
			ws.send(httpapi.WSMessage{Type: "stdin", Data: "hello\n"})
			ws.until("output", "got hello\n")
			if m := ws.next(); m.Type != "execution-complete" {
				t.Fatalf("got %+v", m)
			}

			ws.send(httpapi.WSMessage{Type: "terminal-start", Cols: 80, Rows: 24})
			ws.send(httpapi.WSMessage{Type: "terminal-input", Data: "tty >/dev/null && echo TT''Y-OK; stty size\n"})
			ws.until("terminal-output", "24 80")
			ws.send(httpapi.WSMessage{Type: "terminal-resize", Cols: 120, Rows: 40})
			ws.send(httpapi.WSMessage{Type: "terminal-input", Data: "stty size\n"})
			ws.until("terminal-output", "40 120")

			ws.send(httpapi.WSMessage{Type: "execute", Command: "sleep 1000"})
			waitFor(t, func() bool { return kit.Stats().Live == 1 })
			ws.c.Close(websocket.StatusNormalClosure, "")
			waitFor(t, func() bool { return kit.Stats().Live == 0 })
		})
	}
}

// waitFor polls a condition of the server's state, bounded.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestManyWebSockets runs 200 WebSocket sessions at once, each streaming a
// command's output from its own sandbox; all complete, and afterwards
// goroutines and sandboxes are back to their baseline.
func TestManyWebSockets(t *testing.T) {
	if testing.Short() {
		t.Skip("200 sandboxes: not in -short")
	}
	for _, a := range []int{0, 3, 5} { // net/http, fiber and fiber v3: the two server stacks
		a := adapters[a]
		t.Run(a.Name, func(t *testing.T) {
			// One client holds them all: its own cap is raised to allow it.
			kit := localKit(t, computemw.Config{MaxSandboxes: 256, MaxSessions: 256, MaxSessionsPerPrincipal: 256,
				WebSocket: computemw.WSConfig{MaxConnsPerCaller: 256}})
			base := a.Start(t, kit)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			goroutines := runtime.NumGoroutine()
			const n = 200
			var wg sync.WaitGroup
			errs := make(chan string, n)
			for i := range n {
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
					defer cancel()
					c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+computemwtest.Prefix+"/ws", nil)
					if err != nil {
						errs <- err.Error()
						return
					}
					defer c.CloseNow()
					send := func(m httpapi.WSMessage) error {
						b, _ := json.Marshal(m)
						return c.Write(ctx, websocket.MessageText, b)
					}
					if err := send(httpapi.WSMessage{Type: "create-sandbox"}); err != nil {
						errs <- err.Error()
						return
					}
					var out strings.Builder
					for {
						_, b, err := c.Read(ctx)
						if err != nil {
							errs <- err.Error()
							return
						}
						var m httpapi.WSMessage
						json.Unmarshal(b, &m)
						switch m.Type {
						case "sandbox-ready":
							send(httpapi.WSMessage{Type: "execute", Command: "seq 1 3; echo session-" + string(rune('a'+i%26))})
						case "output":
							out.WriteString(m.Data)
						case "execution-complete":
							if want := "1\n2\n3\nsession-" + string(rune('a'+i%26)) + "\n"; out.String() != want {
								errs <- "output " + out.String()
							}
							c.Close(websocket.StatusNormalClosure, "")
							return
						case "error":
							errs <- m.Code + ": " + m.Message
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Error(e)
			}
			waitFor(t, func() bool { return kit.Stats().Live == 0 })
			waitFor(t, func() bool { return runtime.NumGoroutine() <= goroutines+5 })
			runtime.GC()
			runtime.ReadMemStats(&after)
			if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 32<<20 {
				t.Errorf("heap grew by %d MiB over 200 finished sessions", grown>>20)
			}
		})
	}
}
