package computesocketio

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/zishang520/socket.io/servers/engine/v3"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
)

// serveHTTP is the front of the Engine.IO server: every request names a
// host the kit serves and comes from a page the kit allows (403
// otherwise), and a handshake — a GET without a session ID, the request
// that makes a session — needs a place among the sessions waiting to be
// admitted (429 or 503 otherwise). Refusals carry the kit's error body,
// and the Engine.IO server never sees them. (Engine.IO's own allowRequest
// hook runs once the request's context is allocated, answers only 403 in
// Engine.IO's shape, and tells nothing when the session ends.)
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	req := &computemw.Request{Method: r.Method, Header: r.Header, Host: r.Host, RemoteAddr: r.RemoteAddr}
	if !s.api.HostAllowed(r.Host) {
		s.refuse(w, r, req, computemw.Errorf(computemw.CodeForbidden, "host %q is not served here", truncate(r.Host, 64)))
		return
	}
	if origin := r.Header.Get("Origin"); !s.api.OriginAllowed(origin) || (!s.api.ChecksOrigins() && !sameOrigin(origin, r.Host)) {
		s.refuse(w, r, req, computemw.Errorf(computemw.CodeForbidden, "origin %q may not connect here", truncate(origin, 128)))
		return
	}
	if r.Method != http.MethodGet || r.URL.Query().Get("sid") != "" {
		s.handler.ServeHTTP(w, r)
		return
	}
	ip := computemw.ClientIP(r.Context(), req, s.kit.Config().TrustedProxies)
	t, err := s.pending.take(clientKey(ip))
	if err != nil {
		if computemw.AsError(err).Code == computemw.CodeUnavailable {
			s.warnFull(r)
		}
		s.refuse(w, r, req, err)
		return
	}
	defer t.handshakeDone()
	s.handler.ServeHTTP(w, r.WithContext(withTicket(r.Context(), t)))
}

// refuse answers r with err in the kit's error body (ErrorBody, with the
// request's ID and Retry-After), readable by the pages the kit allows.
// Refusals are not logged one by one: a flood of handshakes must not
// become a flood of log lines (see [Server.warnFull]).
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, req *computemw.Request, err error) {
	e := computemw.AsError(err)
	_, id := computemw.BeginRequest(r.Context(), r.Header)
	body, _ := json.Marshal(httpapi.ErrorBody{Error: publicMessage(e), Code: e.Code, RequestID: id})
	s.api.CORSHeaders(w.Header(), req)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set(computemw.RequestIDHeader, id)
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	w.WriteHeader(computemw.StatusOf(e))
	_, _ = w.Write(body)
}

// sameOrigin reports whether a page of origin is served by host (or the
// client is not a browser page): the rule when the kit has no lists of
// hosts or origins, as for the kit's own WebSocket.
func sameOrigin(origin, host string) bool {
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, host)
}

// sessionOpened holds the session the Engine.IO server just made to the
// place its handshake took: the place is given back when the session is
// admitted or closes. A session without a place is closed at once.
func (s *Server) sessionOpened(args ...any) {
	sess, ok := args[0].(engine.Socket)
	if !ok {
		return
	}
	t := ticketFrom(sess.Request().Context())
	if t == nil || !t.bind() {
		sess.Close(true)
		return
	}
	_ = sess.Once("close", func(...any) { t.release() })
	if sess.ReadyState() == "closed" {
		t.release()
	}
}

// warnFull logs that MaxPendingConns refuses handshakes, at most once a
// minute.
func (s *Server) warnFull(r *http.Request) {
	now := time.Now().UnixNano()
	last := s.lastFull.Load()
	if now-last < int64(time.Minute) || !s.lastFull.CompareAndSwap(last, now) {
		return
	}
	s.kit.Config().Logger.WarnContext(r.Context(), "computemw: socket.io: too many connections waiting to be admitted; refusing handshakes",
		"maxPendingConns", s.cfg.MaxPendingConns)
}
