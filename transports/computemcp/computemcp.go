// Package computemcp serves computemw as a Model Context Protocol server:
// the streamable HTTP transport of the MCP specification, through the
// official Go SDK (github.com/modelcontextprotocol/go-sdk). An agent
// framework pointed at it gets tools to run code, run a command, read,
// write and list files, and open and close a sandbox that lives as long as
// its MCP session. It is an http.Handler, mounted under the route group
// beside the prebuilt routes (any framework that takes an http.Handler):
//
//	srv := computemcp.New(kit, computemcp.Options{})
//	defer srv.Close(ctx)
//	computehttp.Mount(mux, "/api", kit)
//	mux.Handle("/api/mcp", srv)
//	mux.Handle("GET "+computemcp.MetadataPath("/api/mcp"), srv.Metadata())
//
// Every HTTP request to the endpoint is admitted by the kit's policies as
// [OpMCP] (host, authentication, rate limits) before the SDK reads it; a
// caller refused for want of credentials gets 401 with a WWW-Authenticate
// challenge whose resource_metadata points at the protected-resource
// metadata document (RFC 9728) that [Server.Metadata] serves, as the MCP
// authorization specification asks. Every tool call is then admitted again
// as the operation it is (execute, exec, files, sessions) and runs through
// [computemw.Kit.Execute], [computemw.Kit.Files] and [computemw.Sessions],
// so roles, rate limits, quotas, metrics and the execution log apply as on
// the HTTP routes. A tool that fails answers an MCP tool error (isError)
// whose structured content carries the kit's stable code.
//
// Everything a client can make the server hold is bounded: message size,
// code size, MCP sessions in all and per caller, one sandbox per MCP
// session (a session of the kit, within its session limits), and idle MCP
// sessions are closed and their sandboxes destroyed.
package computemcp

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
)

// OpMCP is the operation every HTTP request to the MCP endpoint is
// admitted as, before the SDK reads its message. Policies see it like any
// operation of the kit: the authenticator requires credentials for it
// unless it is listed in its public operations, and the rate limiter counts
// it, so a tool call costs one request of the caller's rate for its
// message and one more for the execution, file operation or session it
// makes.
const OpMCP computemw.Op = "mcp"

// Options configure [New]; zero fields take the defaults.
type Options struct {
	// MaxMessageBytes caps the body of one HTTP request to the endpoint
	// (default Config.MaxBodyBytes of the kit, 1 MiB); past it the answer
	// is 413.
	MaxMessageBytes int64
	// MaxCodeBytes caps the code of run_code and the content of
	// write_file (default 256 KiB); past it the tool answers a
	// PAYLOAD_TOO_LARGE tool error and nothing runs.
	MaxCodeBytes int
	// MaxSessions caps the MCP sessions open at once (default 256; past it
	// initialize fails with UNAVAILABLE), MaxSessionsPerCaller those of
	// one caller (default 8; past it RATE_LIMITED). A caller is its
	// principal, or without authentication its client address.
	MaxSessions          int
	MaxSessionsPerCaller int
	// IdleTimeout closes an MCP session that sent no request for that
	// long, and destroys its sandbox (default 10m). The sandbox is a
	// session of the kit whose lifetime after its last use is the same,
	// at most Config.MaxSessionTTL, and which ends at
	// Config.MaxSessionLifetime whatever its use.
	IdleTimeout time.Duration
	// ResourceURL is the endpoint's canonical URL, the "resource" of its
	// protected-resource metadata (RFC 9728). Default: the URL each
	// request reached it by (http, or https under TLS, its Host and
	// path).
	ResourceURL string
	// AuthorizationServers are the issuer URLs of the authorization
	// servers whose tokens the kit's authenticator accepts, published in
	// the protected-resource metadata so that MCP clients can find them.
	AuthorizationServers []string
	// Name is the server's name in the MCP initialize result (default
	// "computemw").
	Name string
}

func (o *Options) setDefaults(cfg computemw.Config) {
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = cfg.MaxBodyBytes
	}
	if o.MaxCodeBytes <= 0 {
		o.MaxCodeBytes = 256 << 10
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = 256
	}
	if o.MaxSessionsPerCaller <= 0 {
		o.MaxSessionsPerCaller = 8
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 10 * time.Minute
	}
	if o.Name == "" {
		o.Name = "computemw"
	}
}

// Server is the MCP endpoint of a kit. Build it with [New]; close it with
// [Server.Close].
type Server struct {
	kit  *computemw.Kit
	cfg  computemw.Config // the kit's, with its defaults
	api  *httpapi.API
	opts Options
	log  *slog.Logger
	mcp  *mcp.Server
	http *mcp.StreamableHTTPHandler
	book *book
	// stopped ends the calls in progress when Close begins.
	stopped context.Context
	stop    context.CancelFunc
}

// New returns the MCP endpoint of kit. Mount it at one path (it answers
// POST for messages, GET for the server's event stream and DELETE to end
// a session, as the streamable HTTP transport does).
func New(kit *computemw.Kit, opts Options) *Server {
	cfg := kit.Config()
	opts.setDefaults(cfg)
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{kit: kit, cfg: cfg, api: httpapi.New(kit), opts: opts, log: log}
	s.book = newBook(s)
	s.stopped, s.stop = context.WithCancel(context.Background())
	s.mcp = mcp.NewServer(&mcp.Implementation{Name: opts.Name, Title: "Sandboxed code execution", Version: moduleVersion()}, &mcp.ServerOptions{
		Logger: log,
		Instructions: "Runs code and commands in isolated sandboxes. run_code and run_command " +
			"run in a fresh sandbox each, unless open_sandbox opened one for this session: " +
			"then they, and the file tools, use it until close_sandbox or the end of the session.",
	})
	s.mcp.AddReceivingMiddleware(s.sessionGate)
	s.addTools()
	s.http = mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcp }, &mcp.StreamableHTTPOptions{
		Logger:              log,
		SessionTimeout:      opts.IdleTimeout,
		MaxRequestBodyBytes: opts.MaxMessageBytes,
		// The kit's host check (Config.AllowedHosts) guards against DNS
		// rebinding when it is configured, and lets a reverse proxy on
		// the same host forward its own names; without it, the SDK's
		// check refuses a non-loopback Host on a loopback listener.
		DisableLocalhostProtection: len(cfg.AllowedHosts) > 0,
	})
	return s
}

// moduleVersion is the version of the kit's module in the running
// program, for the initialize result's serverInfo.
func moduleVersion() string {
	const module = "github.com/computemw/kit"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Path == module && bi.Main.Version != "" {
			return bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == module {
				return d.Version
			}
		}
	}
	return "devel"
}

// ServeHTTP implements http.Handler: it admits the request through the
// kit's policies, checks that a request naming an MCP session comes from
// the session's caller, and hands it to the SDK's streamable HTTP handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Nothing reads the framework's request context past this point.
	ctx, cancel := detached(r.Context())
	defer cancel()
	req := &computemw.Request{Method: r.Method, Header: clientHeader(r.Header), Host: r.Host, RemoteAddr: r.RemoteAddr}
	if httpapi.IsPreflight(req) {
		resp := s.api.Preflight(ctx, req, []string{http.MethodGet, http.MethodPost, http.MethodDelete})
		if v := resp.Header.Get("Access-Control-Allow-Headers"); v != "" {
			resp.Header.Set("Access-Control-Allow-Headers", v+", "+mcpHeaders)
		}
		writeResponse(w, resp)
		return
	}
	s.api.CORSHeaders(w.Header(), req)
	if v := w.Header().Get("Access-Control-Expose-Headers"); v != "" {
		w.Header().Set("Access-Control-Expose-Headers", v+", "+sessionIDHeader)
	}
	if r.ContentLength > s.opts.MaxMessageBytes {
		s.writeError(ctx, w, r, computemw.Errorf(computemw.CodePayloadTooLarge, "message exceeds %d bytes", s.opts.MaxMessageBytes))
		return
	}
	actx, err := s.kit.Admit(ctx, OpMCP, req)
	maps.Copy(w.Header(), computemw.ResponseHeader(actx))
	if err != nil {
		s.writeError(actx, w, r, err)
		return
	}
	owner := ownerOf(actx, req, s.cfg)
	if id := r.Header.Get(sessionIDHeader); id != "" && !s.book.ownedBy(id, owner) {
		// Another caller's session does not exist for this one, as the
		// kit's sessions do not.
		s.writeError(actx, w, r, computemw.Errorf(computemw.CodeNotFound, "no such MCP session"))
		return
	}
	if id := r.Header.Get(sessionIDHeader); id != "" && r.Method == http.MethodDelete {
		s.book.stopCalls(id)
	}
	if r.Method == http.MethodGet {
		// The server's event stream is a long-lived connection: it
		// counts with the caller's WebSocket and stream connections.
		done, err := s.kit.OpenConnection(actx, OpMCP)
		if err != nil {
			s.writeError(actx, w, r, err)
			return
		}
		defer done()
	}
	r = r.Clone(ctx)
	r.Header = withCaller(r.Header, owner, r.RemoteAddr, r.Host)
	s.http.ServeHTTP(w, r)
}

// detached returns a context that ends with parent but holds none of its
// values except the server's local address (which the SDK's DNS-rebinding
// check reads) and the caller's principal. The SDK keeps the context of a
// session's first request for the session's life: under Fiber's net/http
// adaptor that context is a pooled fasthttp.RequestCtx, reused for other
// requests once this one is answered — which, for a streamed answer, can
// be before the handler returns. So parent is only read here, at the
// start: its Done channel is watched by a goroutine that the returned
// cancel ends.
func detached(parent context.Context) (context.Context, context.CancelFunc) {
	ctx := context.Background()
	if addr := parent.Value(http.LocalAddrContextKey); addr != nil {
		ctx = context.WithValue(ctx, http.LocalAddrContextKey, addr)
	}
	// An application that authenticated the caller itself passes its
	// principal on, as to the kit's routes.
	if p, ok := computemw.PrincipalFrom(parent); ok {
		ctx = computemw.WithPrincipal(ctx, p)
	}
	ctx, cancel := context.WithCancel(ctx)
	if done := parent.Done(); done != nil {
		go func() {
			select {
			case <-done:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	return ctx, cancel
}

// Close ends every MCP session and destroys their sandboxes, waiting at
// most until ctx is done. Call it before the kit's Close; the endpoint
// answers no new session after it.
func (s *Server) Close(ctx context.Context) error {
	return s.book.close(ctx)
}

// Sessions returns how many MCP sessions are open.
func (s *Server) Sessions() int { return s.book.count() }

// writeError writes err as the kit renders it (status, code, JSON body);
// a 401 also names the protected-resource metadata.
func (s *Server) writeError(ctx context.Context, w http.ResponseWriter, r *http.Request, err error) {
	resp := s.api.ErrorResponse(ctx, err, r.Header)
	if resp.Status == http.StatusUnauthorized {
		resp.Header.Set("WWW-Authenticate", challenge(resp.Header.Get("WWW-Authenticate"), s.metadataURL(r)))
	}
	writeResponse(w, resp)
}

// writeResponse writes a response of the kit.
func writeResponse(w http.ResponseWriter, resp *httpapi.Response) {
	maps.Copy(w.Header(), resp.Header)
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

// mcpHeaders are the request headers of the streamable HTTP transport that
// a page of an allowed origin (Config.AllowedOrigins) may send.
const mcpHeaders = "Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID"
