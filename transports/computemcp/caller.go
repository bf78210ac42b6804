package computemcp

import (
	"context"
	"net/http"

	"github.com/computemw/kit/computemw"
)

// The SDK hands a tool handler the headers of the HTTP request that
// carried its message, and nothing else of it. ServeHTTP puts there, under
// these names, what the kit needs to admit the tool call as that request's
// caller: the caller's owner key, its address and the Host it asked for. A
// client cannot set them: ServeHTTP removes any it sent before setting its
// own, and they are taken out again before the kit's policies see the
// headers.
const (
	ownerHeader      = "X-Computemcp-Internal-Owner"
	remoteAddrHeader = "X-Computemcp-Internal-Remote-Addr"
	hostHeader       = "X-Computemcp-Internal-Host"
)

// sessionIDHeader is the streamable HTTP transport's session header.
const sessionIDHeader = "Mcp-Session-Id"

var internalHeaders = []string{ownerHeader, remoteAddrHeader, hostHeader}

// clientHeader returns h without the internal headers (a copy when it had
// any).
func clientHeader(h http.Header) http.Header {
	for _, k := range internalHeaders {
		if _, ok := h[k]; ok {
			c := h.Clone()
			for _, k := range internalHeaders {
				c.Del(k)
			}
			return c
		}
	}
	return h
}

// withCaller returns a copy of h carrying the caller's owner key, address
// and host in the internal headers.
func withCaller(h http.Header, owner, remoteAddr, host string) http.Header {
	c := clientHeader(h).Clone()
	c.Set(ownerHeader, owner)
	c.Set(remoteAddrHeader, remoteAddr)
	c.Set(hostHeader, host)
	return c
}

// callerRequest is the kit's view of the HTTP request that carried a
// message, for admitting a tool call; owner is the caller's key.
func callerRequest(h http.Header) (r *computemw.Request, owner string) {
	if h == nil {
		return &computemw.Request{Header: http.Header{}}, ""
	}
	return &computemw.Request{Header: clientHeader(h), RemoteAddr: h.Get(remoteAddrHeader), Host: h.Get(hostHeader)},
		h.Get(ownerHeader)
}

// ownerOf is the key of the caller that owns MCP sessions: its principal,
// or without authentication its client address (believed from
// X-Forwarded-For only behind Config.TrustedProxies), as the kit's own
// sessions are owned.
func ownerOf(ctx context.Context, r *computemw.Request, cfg computemw.Config) string {
	if p, ok := computemw.PrincipalFrom(ctx); ok && p.ID != "" {
		return "p:" + p.ID
	}
	if ip := computemw.ClientIP(ctx, r, cfg.TrustedProxies); ip.IsValid() {
		return "addr:" + ip.String()
	}
	return "anonymous"
}
