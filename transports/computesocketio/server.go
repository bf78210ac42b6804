// Package computesocketio serves the kit over Socket.IO (Engine.IO v4,
// Socket.IO protocol v5, with the server of github.com/zishang520/socket.io):
// a client starts a session, runs code with its output streamed live, and
// types into a terminal, with events instead of HTTP routes.
//
// Every event goes through the kit's governed entry points: the handshake
// is admitted like a WebSocket upgrade ([httpapi.API.AdmitWebSocket]:
// authentication, rate limits, allowed origins), and refused with a
// connect_error; each event that creates or runs something is admitted
// again (so rate limits count it) and then runs through
// [computemw.Sessions.Create], [computemw.Kit.Execute] or a governed
// terminal, so RBAC, quotas, metrics, hooks and the execution log hold
// exactly as on the HTTP routes. The session's sandbox is destroyed when
// the socket disconnects, however it does.
//
// Before the Socket.IO connect admits a client, its Engine.IO session is
// bounded on its own: [Server.Handler] refuses requests for a host the kit
// does not serve or from a page it does not allow (403) before the
// Engine.IO server sees them, caps the sessions not yet admitted in all and
// per client address (Config.MaxPendingConns, 503, and
// MaxPendingConnsPerClient, 429), and a session not admitted within
// Config.ConnectTimeout is closed.
//
// Client events: start-session {provider?, template?}, execute-code
// {language, code} or {command} (with an optional id echoed back, stdin,
// timeout in ms, env, args, and openStdin to keep the input open), stdin
// {id?, data} and stdin-end {id?} (the input of a run started with
// openStdin, and its end), terminal-input {data} (the first opens a shell),
// terminal-resize {cols, rows}, end-session. Server events:
// session-started {sandboxId, provider}, execution-output {stream, data},
// execution-result {output, stderr, success, exitCode, executionTime,
// truncated}, execution-error {message, code}, terminal-output {data},
// terminal-exit {exitCode}, session-ended {sandboxId}, error {message, code}.
package computesocketio

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
)

// DefaultPath is where clients find the server unless Config.Path says
// otherwise; socket.io-client uses it by default.
const DefaultPath = "/socket.io/"

// Config tunes the Socket.IO server; zero fields take the defaults, most of
// which come from the kit's Config.WebSocket.
type Config struct {
	// Path is the path the handler is mounted on (default "/socket.io/").
	Path string
	// MaxMessageBytes caps one incoming message (default
	// Config.WebSocket.MaxMessageBytes, 1 MiB). Engine.IO closes a
	// connection that sends more.
	MaxMessageBytes int
	// MaxConcurrentRuns caps the executions running at once on one socket
	// (default 1); past it execute-code gets an execution-error.
	MaxConcurrentRuns int
	// SendWindow caps the events sent to a client and not yet written to
	// its transport (default Config.WebSocket.SendQueue, 64). When it is
	// full, the program producing output waits: a slow client slows the
	// program instead of the server buffering its output.
	SendWindow int
	// WriteTimeout disconnects a client whose transport accepts no event
	// for this long (default Config.WebSocket.WriteTimeout, 10s); its
	// sandbox is destroyed.
	WriteTimeout time.Duration
	// PingInterval and PingTimeout are Engine.IO's heartbeat (defaults
	// 25s and 20s): a client that does not answer is disconnected.
	PingInterval time.Duration
	PingTimeout  time.Duration
	// MaxLifetime disconnects a socket this long after it connected
	// (default Config.WebSocket.MaxLifetime, 2h).
	MaxLifetime time.Duration
	// SessionTTL is the lifetime of a socket's session after its last use
	// (default the kit's Config.SessionTTL); the socket's disconnect ends
	// it sooner.
	SessionTTL time.Duration

	// Before a client is admitted (the Socket.IO connect, where the kit
	// authenticates it), its Engine.IO session is bounded on its own:

	// ConnectTimeout closes a session that has not been admitted this long
	// after its handshake, and frees it (default 10s).
	ConnectTimeout time.Duration
	// MaxPendingConns caps the sessions not admitted yet, in all (default
	// 1024); a handshake past it gets 503 UNAVAILABLE.
	MaxPendingConns int
	// MaxPendingConnsPerClient caps them per client address (default 32;
	// the address of computemw.ClientIP, so behind a proxy set the kit's
	// Config.TrustedProxies; IPv6 addresses count by /64); a handshake
	// past it gets 429 RATE_LIMITED.
	MaxPendingConnsPerClient int
}

func (c *Config) setDefaults(kc computemw.Config) {
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = kc.WebSocket.MaxMessageBytes
	}
	if c.MaxConcurrentRuns <= 0 {
		c.MaxConcurrentRuns = 1
	}
	if c.SendWindow <= 0 {
		c.SendWindow = kc.WebSocket.SendQueue
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = kc.WebSocket.WriteTimeout
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 20 * time.Second
	}
	if c.MaxLifetime <= 0 {
		c.MaxLifetime = kc.WebSocket.MaxLifetime
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = kc.SessionTTL
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.MaxPendingConns <= 0 {
		c.MaxPendingConns = 1024
	}
	if c.MaxPendingConnsPerClient <= 0 {
		c.MaxPendingConnsPerClient = 32
	}
}

// Server is the kit's Socket.IO endpoint. Mount [Server.Handler] at
// [Server.Path] on any net/http router (Gin, Echo, chi ...), and call
// [Server.Close] before the kit's Close.
type Server struct {
	kit      *computemw.Kit
	api      *httpapi.API // the kit's HTTP contract: hosts, origins, WebSocket admission
	cfg      Config
	io       *socket.Server
	handler  http.Handler // the Engine.IO server
	front    http.Handler // what Handler returns: checks, then handler
	pending  *pendingGate
	lastFull atomic.Int64 // when warnFull last logged, in Unix ns
	base     context.Context
	stop     context.CancelFunc

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
	wg     sync.WaitGroup // live connections, until their teardown ends
}

// New builds the Socket.IO server of kit.
func New(kit *computemw.Kit, cfg Config) *Server {
	kc := kit.Config()
	cfg.setDefaults(kc)
	opts := socket.DefaultServerOptions()
	opts.SetPath(cfg.Path)
	opts.SetServeClient(false)
	opts.SetMaxHttpBufferSize(int64(cfg.MaxMessageBytes))
	opts.SetPingInterval(cfg.PingInterval)
	opts.SetPingTimeout(cfg.PingTimeout)
	opts.SetConnectTimeout(cfg.ConnectTimeout)
	// Pages of other origins may poll only when the kit allows them; the
	// handshake itself is refused for an origin the kit does not allow.
	if len(kc.AllowedOrigins) > 0 {
		opts.SetCors(&types.Cors{Origin: kc.AllowedOrigins, Credentials: true})
	}
	s := &Server{kit: kit, api: httpapi.New(kit), cfg: cfg, conns: make(map[*conn]struct{}),
		pending: newPendingGate(cfg.MaxPendingConns, cfg.MaxPendingConnsPerClient, cfg.ConnectTimeout)}
	s.base, s.stop = context.WithCancel(context.Background())
	s.io = socket.NewServer(nil, opts)
	s.io.Use(s.admit)
	_ = s.io.On("connection", func(args ...any) {
		if sock, ok := args[0].(*socket.Socket); ok {
			if c, ok := sock.Data().(*conn); ok {
				c.serve()
			}
		}
	})
	s.handler = s.io.ServeHandler(nil)
	_ = s.io.Engine().On("connection", s.sessionOpened)
	s.front = http.HandlerFunc(s.serveHTTP)
	return s
}

// Handler serves Engine.IO's polling and WebSocket transports; mount it at
// [Server.Path] (with Gin, on Path+"*any"; with Echo, on Path+"*"). It
// refuses, before the Engine.IO server sees them, requests for a host the
// kit does not serve or from a page it does not allow (403 FORBIDDEN), and
// handshakes past MaxPendingConnsPerClient (429) or MaxPendingConns (503),
// with the kit's error body.
func (s *Server) Handler() http.Handler { return s.front }

// PendingConns is the number of Engine.IO sessions open and not admitted
// yet (see Config.MaxPendingConns).
func (s *Server) PendingConns() int { return s.pending.count() }

// Path is the path the handler expects, "/socket.io/" by default.
func (s *Server) Path() string { return s.cfg.Path }

// Close disconnects every socket, destroys their sessions and waits for
// that (bounded by ctx); new connections are refused. Call it before the
// kit's Close, after the HTTP server stopped accepting requests.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.end(errShutdown)
	}
	s.io.Close(nil)
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.stop()
		return nil
	case <-ctx.Done():
		s.stop()
		return ctx.Err()
	}
}

// track adds a connection, or refuses it once Close has begun.
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

// untrack removes a connection whose teardown ended.
func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}
