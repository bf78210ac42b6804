package graphql

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gql "github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/computemw/kit/computemw"
)

// The close code of a refused connection_init (graphql-transport-ws's
// Forbidden); its reason is "CODE: message" with the kit's code.
const closeForbidden = 4403

// websocket is the gqlgen WebSocket transport, bounded by the kit's
// WebSocket settings (Config.WebSocket): message size, pings, write
// timeout; and by Options: the connection_init deadline.
func (h *Handler) websocket() transport.Websocket {
	cfg := h.cfg.WebSocket
	limit := int64(cfg.MaxMessageBytes)
	return transport.Websocket{
		Implementation: timedWebsocket{
			inner:   transport.CoderWebsocketImplementation{AcceptOptions: websocket.AcceptOptions{InsecureSkipVerify: h.api.ChecksOrigins()}},
			timeout: cfg.WriteTimeout,
		},
		InitFunc:              h.initConn,
		InitTimeout:           h.opts.InitTimeout,
		CloseFunc:             func(ctx context.Context, _ int) { connFrom(ctx).close() },
		KeepAlivePingInterval: cfg.PingInterval,
		PingPongInterval:      cfg.PingInterval,
		PayloadReadLimit:      &limit,
	}
}

// serveWebSocket checks the upgrade — the host (in ServeHTTP), the page's
// origin by the kit's rule, or same-origin when the kit has no lists
// (refused: 403 before any upgrade), and the connections of the client's
// address that await connection_init (Options.MaxPendingConns) — then
// serves the connection. Its caller is admitted at connection_init, when
// its credentials are known, which must come within Options.InitTimeout.
func (h *Handler) serveWebSocket(w http.ResponseWriter, r *http.Request, req *computemw.Request) {
	if origin := r.Header.Get("Origin"); !h.api.OriginAllowed(origin) || (!h.api.ChecksOrigins() && !sameOrigin(origin, r.Host)) {
		h.writeError(w, computemw.Errorf(computemw.CodeForbidden, "origin %q may not open a WebSocket here", truncate(origin, 128)))
		return
	}
	addr := r.RemoteAddr
	if ip := computemw.ClientIP(r.Context(), req, h.cfg.TrustedProxies); ip.IsValid() {
		addr = ip.String()
	}
	pending, err := h.pending.take(addr)
	if err != nil {
		h.writeError(w, err)
		return
	}
	defer pending()
	c := &conn{pending: pending}
	defer c.close()
	ctx := withConn(withCaller(r.Context(), req), c)
	h.srv.ServeHTTP(w, r.WithContext(ctx))
}

// sameOrigin reports whether a page of origin is served by host (or the
// client is not a browser page): the rule when the kit has no origin lists.
func sameOrigin(origin, host string) bool {
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, host)
}

// initConn admits a connection at connection_init: the upgrade request's
// headers, with the credentials of the init payload (Options.CredentialKeys)
// over them, pass the kit's WebSocket admission (host, origin,
// authentication, rate limits); the caller's open connections are capped
// in the same books as the kit's own WebSocket ([computemw.Kit.OpenConnection]:
// Config.WebSocket's MaxConnsPerCaller and MaxConns, counted in
// compute_active_connections); and the connection ends after MaxLifetime,
// or IdleTimeout without a running operation.
// A refusal closes the connection with 4403 and "CODE: message".
func (h *Handler) initConn(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	c := connFrom(ctx)
	c.pending() // connection_init came: admitted or closed now
	req := caller(ctx)
	header := http.Header{}
	if hh, ok := req.Header.(http.Header); ok {
		header = hh.Clone()
	}
	h.credentials(header, payload)
	req.Method, req.Header = http.MethodGet, header
	actx, err := h.api.AdmitWebSocket(ctx, req)
	if err != nil {
		return refuse(ctx, err)
	}
	// A place in the books of the kit's WebSocket connections.
	done, err := h.kit.OpenConnection(actx, computemw.OpWebSocket)
	if err != nil {
		return refuse(ctx, err)
	}
	// Each document and field is admitted again, as a request of its own, with
	// these headers; the connection's context carries none of the
	// admission's per-request state, since operations run at once.
	sub := *req
	sub.Method = "WS"
	cctx, cancel := context.WithCancel(withCaller(ctx, &sub))
	c.start(done, cancel, h.cfg.WebSocket.MaxLifetime, h.cfg.WebSocket.IdleTimeout)
	return cctx, nil, nil
}

// credentials copies the init payload's credentials into header.
func (h *Handler) credentials(header http.Header, payload transport.InitPayload) {
	take := func(m map[string]any) {
		for k, v := range m {
			s, ok := v.(string)
			if !ok || len(s) > 8<<10 {
				continue
			}
			for _, want := range h.opts.CredentialKeys {
				if strings.EqualFold(k, want) {
					header.Set(want, s)
				}
			}
		}
	}
	if hs, ok := payload["headers"].(map[string]any); ok {
		take(hs)
	}
	take(payload)
}

// refuse ends connection_init with the kit error's code in the close
// reason (at most 123 bytes, the WebSocket limit).
func refuse(ctx context.Context, err error) (context.Context, *transport.InitPayload, error) {
	e := computemw.AsError(err)
	reason := truncate(string(e.Code)+": "+publicMessage(e), 120)
	ctx = transport.WithWebsocketCloseCode(ctx, closeForbidden)
	ctx = transport.AppendCloseReason(ctx, reason)
	return ctx, nil, fmt.Errorf("%s", reason)
}

type connKey struct{}

func withConn(ctx context.Context, c *conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// connFrom returns the WebSocket connection of ctx, or nil over HTTP.
func connFrom(ctx context.Context) *conn {
	c, _ := ctx.Value(connKey{}).(*conn)
	return c
}

// conn is the state of one WebSocket connection: its running
// operations, its time limits, and its place among the caller's
// connections.
type conn struct {
	pending  func() // gives back the place among connections awaiting connection_init
	mu       sync.Mutex
	running  int
	idle     time.Duration
	idleT    *time.Timer
	lifetime *time.Timer
	cancel   context.CancelFunc
	give     func()
	closed   bool
}

// start arms the connection's limits once it is admitted.
func (c *conn) start(give func(), cancel context.CancelFunc, lifetime, idle time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.give, c.cancel, c.idle = give, cancel, idle
	c.lifetime = time.AfterFunc(lifetime, cancel)
	c.idleT = time.AfterFunc(idle, c.idleCheck)
}

// idleCheck ends a connection with nothing running.
func (c *conn) idleCheck() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running == 0 && c.cancel != nil {
		c.cancel()
	}
}

// begin takes a place for an operation, at most max at once.
func (c *conn) begin(max int) (*operation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running >= max {
		return nil, &computemw.Error{Code: computemw.CodeRateLimited, Message: fmt.Sprintf("at most %d operations at once per connection", max),
			RetryAfter: time.Second}
	}
	c.running++
	if c.idleT != nil {
		c.idleT.Stop()
	}
	return &operation{c: c, holds: 1}, nil
}

// end gives an operation's place back.
func (c *conn) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running--
	if c.running == 0 && c.idleT != nil && !c.closed {
		c.idleT.Reset(c.idle)
	}
}

// close releases the connection: its timers and its place; idempotent,
// and safe on a connection never admitted (nil too).
func (c *conn) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	if c.lifetime != nil {
		c.lifetime.Stop()
		c.idleT.Stop()
		c.cancel()
		c.give()
	}
}

// timedWebsocket bounds every write of a connection by a timeout: a client
// that stops reading is disconnected after it instead of holding the
// connection (and the program writing to it) forever.
type timedWebsocket struct {
	inner   transport.WebsocketImplementation
	timeout time.Duration
}

func (t timedWebsocket) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	c, err := t.inner.Accept(w, r, opts)
	if err != nil {
		return nil, err
	}
	return &timedConn{WebsocketConn: c, timeout: t.timeout}, nil
}

// timedConn is a connection whose writes time out; it keeps the read
// limit and deadline of the connection it wraps.
type timedConn struct {
	transport.WebsocketConn
	timeout time.Duration
}

func (c *timedConn) WriteJSON(v any) error {
	stall := time.AfterFunc(c.timeout, func() { _ = c.WebsocketConn.Close() })
	defer stall.Stop()
	return c.WebsocketConn.WriteJSON(v)
}

func (c *timedConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

func (c *timedConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}

// operation is the place of one running operation on a connection. It is
// held by gqlgen's run of the operation until its last response, and by a
// subscription's program until that ends (after a client's complete, the
// program is still being stopped); the place is free once both let go.
type operation struct {
	c     *conn
	mu    sync.Mutex
	holds int
}

// hold takes one more hold on the place.
func (o *operation) hold() {
	o.mu.Lock()
	o.holds++
	o.mu.Unlock()
}

// done lets go of one hold; the last frees the place.
func (o *operation) done() {
	o.mu.Lock()
	o.holds--
	last := o.holds == 0
	o.mu.Unlock()
	if last {
		o.c.end()
	}
}

type operationKey struct{}

// operationFrom returns the place of the WebSocket operation ctx runs, or
// nil over HTTP.
func operationFrom(ctx context.Context) *operation {
	o, _ := ctx.Value(operationKey{}).(*operation)
	return o
}

// aroundOperation gives every operation on a WebSocket connection —
// subscription, query or mutation — a place among the connection's
// Options.MaxOperationsPerConn; past it the operation is refused with
// RATE_LIMITED before anything of it runs.
func (h *Handler) aroundOperation(ctx context.Context, next gql.OperationHandler) gql.ResponseHandler {
	c := connFrom(ctx)
	if c == nil {
		return next(ctx)
	}
	op, err := c.begin(h.opts.MaxOperationsPerConn)
	if err != nil {
		return gql.OneShot(&gql.Response{Errors: gqlerror.List{h.presentError(ctx, err)}})
	}
	responses := next(context.WithValue(ctx, operationKey{}, op))
	finished := false
	return func(ctx context.Context) *gql.Response {
		if finished {
			return nil
		}
		resp := responses(ctx)
		if resp == nil {
			finished = true
			op.done()
		}
		return resp
	}
}
