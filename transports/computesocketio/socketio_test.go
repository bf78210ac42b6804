package computesocketio_test

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/auth"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/fakeprovider"
	"github.com/computemw/kit/computemw/prommetrics"
	computesocketio "github.com/computemw/kit/transports/computesocketio"
	"github.com/computemw/kit/transports/computesocketio/socketiotest"
)

var secret = []byte("socket-io-test-secret-of-32-bytes!!")

// token is a JWT of principal sub on plan, valid for a minute.
func token(t *testing.T, sub, plan string, key []byte) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "plan": plan, "exp": time.Now().Add(time.Minute).Unix(),
	}).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// recorder is the fake provider, recording the options of each sandbox
// it creates.
type recorder struct {
	*fakeprovider.Provider
	mu    sync.Mutex
	metas []map[string]string
}

func (p *recorder) Create(ctx context.Context, opts computemw.CreateOptions) (computemw.Sandbox, error) {
	p.mu.Lock()
	p.metas = append(p.metas, maps.Clone(opts.Metadata))
	p.mu.Unlock()
	return p.Provider.Create(ctx, opts)
}

func (p *recorder) lastMetadata() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.metas) == 0 {
		return nil
	}
	return p.metas[len(p.metas)-1]
}

// jwtKit is a kit that authenticates bearer tokens signed with secret,
// over a recording fake provider, with metrics; the kit and the Socket.IO
// server are closed at cleanup (the server first).
func jwtKit(t *testing.T) (*computemw.Kit, *recorder, *computesocketio.Server) {
	t.Helper()
	authn, err := auth.New(auth.Config{JWT: &auth.JWTConfig{Algorithms: []string{"HS256"},
		Keys: []auth.JWTKey{{Algorithm: "HS256", Key: secret}}}})
	if err != nil {
		t.Fatal(err)
	}
	prov := &recorder{Provider: fakeprovider.New("fake")}
	kit, err := computemw.New(computemw.Config{Providers: []computemw.Provider{prov}, Policies: []computemw.Policy{authn},
		Metrics: prommetrics.New(prommetrics.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := kit.Close(ctx); err != nil {
			t.Errorf("kit.Close: %v", err)
		}
		if n := prov.Live(); n != 0 {
			t.Errorf("%d sandboxes left", n)
		}
	})
	srv := serverFor(t, kit)
	return kit, prov, srv
}

// serverFor builds the Socket.IO server of kit, closed at cleanup.
func serverFor(t *testing.T, kit *computemw.Kit) *computesocketio.Server {
	t.Helper()
	srv := computesocketio.New(kit, computesocketio.Config{})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv
}

// frameworks mount the Socket.IO handler on each router it supports and
// serve it on loopback; mount returns the base URL.
var frameworks = []struct {
	name  string
	mount func(t *testing.T, srv *computesocketio.Server) string
}{
	{"nethttp", func(t *testing.T, srv *computesocketio.Server) string {
		mux := http.NewServeMux()
		mux.Handle(srv.Path(), srv.Handler())
		return serve(t, mux)
	}},
	{"gin", func(t *testing.T, srv *computesocketio.Server) string {
		gin.SetMode(gin.ReleaseMode)
		r := gin.New()
		r.Any(srv.Path()+"*any", gin.WrapH(srv.Handler()))
		return serve(t, r)
	}},
	{"echo", func(t *testing.T, srv *computesocketio.Server) string {
		e := echo.New()
		e.Any(srv.Path()+"*", echo.WrapHandler(srv.Handler()))
		return serve(t, e)
	}},
}

// serve serves h on loopback until the test ends.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}

// TestNodeClient drives the whole flow with the official client on every
// framework: the caller's token in the handshake's auth, an error without
// a session, a session whose sandbox records its creator, a run whose
// output arrives live before its result, the terminal, and the sandbox
// gone once the client disconnects. A bad token is refused at the
// handshake with connect_error.
func TestNodeClient(t *testing.T) {
	for _, fw := range frameworks {
		t.Run(fw.name, func(t *testing.T) {
			kit, prov, srv := jwtKit(t)
			url := fw.mount(t, srv)
			sum := socketiotest.Run(t, socketiotest.Job{URL: url, Path: srv.Path(), Auth: map[string]any{"token": token(t, "alice", "pro", secret)},
				Start:    map[string]any{"template": "python"},
				Run:      map[string]any{"id": "r1", "language": "python", "code": "lines 3"},
				Terminal: "ls\n", TerminalExpect: "echo:ls"})
			if sum.NoSession == nil || sum.NoSession.Message != "No active session" || sum.NoSession.Code != "BAD_REQUEST" {
				t.Errorf("execute-code without a session: %+v", sum.NoSession)
			}
			if sum.SessionID == "" || sum.Result == nil {
				t.Fatalf("no session or no result: %+v", sum)
			}
			var streamed strings.Builder
			for _, o := range sum.Outputs {
				if o.ID != "r1" || o.Stream != "stdout" {
					t.Errorf("output event %+v", o)
				}
				streamed.WriteString(o.Data)
			}
			want := "line 1\nline 2\nline 3\n"
			if streamed.String() != want || len(sum.Order) < 2 || sum.Order[0] != "output" || sum.Order[len(sum.Order)-1] != "result" {
				t.Errorf("live output %q in order %v, want %q before the result", streamed.String(), sum.Order, want)
			}
			r := sum.Result
			if r.ID != "r1" || r.Output != want || !r.Success || r.ExitCode != 0 || r.ExecutionTime == nil || r.SandboxID != sum.SessionID {
				t.Errorf("execution-result %+v", r)
			}
			if !strings.Contains(sum.Terminal, "echo:ls") {
				t.Errorf("terminal output %q", sum.Terminal)
			}
			if sum.Transport != "websocket" {
				t.Errorf("transport %q after the upgrade, want websocket", sum.Transport)
			}
			md := prov.lastMetadata()
			if md["userId"] != "alice" || md["plan"] != "pro" || md["transport"] != "socket.io" {
				t.Errorf("sandbox metadata %v", md)
			}
			if !prov.WaitLive(0, 10*time.Second) {
				t.Errorf("%d sandboxes live after the client disconnected", prov.Live())
			}
			if n := executions(t, kit, "python", computemw.StatusSuccess); n != 1 {
				t.Errorf("compute_executions_total{python,success} = %v, want 1", n)
			}

			created := prov.Created()
			bad := socketiotest.Run(t, socketiotest.Job{URL: url, Path: srv.Path(), Auth: map[string]any{"token": token(t, "mallory", "pro", []byte("another-secret-of-at-least-32-bytes"))},
				Run: map[string]any{"command": "echo x"}, ExpectRefusal: true})
			if bad.ConnectError == nil || bad.ConnectError.Data["code"] != "UNAUTHORIZED" {
				t.Errorf("bad token: %+v", bad.ConnectError)
			}
			none := socketiotest.Run(t, socketiotest.Job{URL: url, Path: srv.Path(), Run: map[string]any{"command": "echo x"}, ExpectRefusal: true})
			if none.ConnectError == nil || none.ConnectError.Data["code"] != "UNAUTHORIZED" || none.ConnectError.Message != "authentication required" {
				t.Errorf("no token: %+v", none.ConnectError)
			}
			if prov.Created() != created {
				t.Errorf("refused handshakes created %d sandboxes", prov.Created()-created)
			}
		})
	}
}

// executions reads compute_executions_total of the fake provider.
func executions(t *testing.T, kit *computemw.Kit, language, status string) float64 {
	t.Helper()
	return computemwtest.MetricValue(t, kit, "compute_executions_total", map[string]string{"provider": "fake", "language": language, "status": status})
}
