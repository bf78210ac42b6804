package computemw

import (
	"context"
	"net/netip"
	"strings"
)

var remoteAddrKey = &contextKey{"remote-addr"}

// withRemoteAddr returns a context carrying the client's address as the
// server saw it (http.Request.RemoteAddr). Adapters whose sandbox
// middleware calls [httpapi.API.EnterRequest] set it first, so that policies such
// as the rate limiter can key anonymous callers by address; the routes get
// it from [Request].RemoteAddr.
func withRemoteAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, remoteAddrKey, addr)
}

// remoteAddrFrom returns the address set by [withRemoteAddr], or "".
func remoteAddrFrom(ctx context.Context) string {
	s, _ := ctx.Value(remoteAddrKey).(string)
	return s
}

// ClientIP returns the address of the client that sent r: its
// RemoteAddr (or [remoteAddrFrom] ctx), unless that is a trusted proxy, in
// which case X-Forwarded-For is walked from right to left past the trusted
// hops to the first address that is not one. X-Forwarded-For is ignored
// when the peer is not trusted, so a client cannot choose its own address.
// It returns the zero Addr when no address is known.
func ClientIP(ctx context.Context, r *Request, trusted []netip.Prefix) netip.Addr {
	remote := ""
	if r != nil {
		remote = r.RemoteAddr
	}
	if remote == "" {
		remote = remoteAddrFrom(ctx)
	}
	ip := parseIP(remote)
	if !ip.IsValid() || !isTrusted(ip, trusted) || r == nil || r.Header == nil {
		return ip
	}
	for _, hops := range forwardedFor(r.Header) {
		for i := len(hops) - 1; i >= 0; i-- {
			hop := parseIP(hops[i])
			if !hop.IsValid() {
				// A hop the trusted proxies did not write: stop at the
				// last address they vouch for.
				return ip
			}
			ip = hop
			if !isTrusted(hop, trusted) {
				return hop
			}
		}
	}
	return ip
}

// headerValues is implemented by a [Header] that can return every line
// of a repeated header (http.Header does). Without it X-Forwarded-For is
// not believed: a proxy may add its own line after the client's, and the
// first line alone would be the client's choice.
type headerValues interface {
	Values(key string) []string
}

// forwardedFor returns the X-Forwarded-For hops, the last header line
// first (the nearest proxy appends to the last one).
func forwardedFor(h Header) [][]string {
	hv, ok := h.(headerValues)
	if !ok {
		return nil
	}
	lines := hv.Values("X-Forwarded-For")
	out := make([][]string, 0, len(lines))
	for i := len(lines) - 1; i >= 0; i-- {
		out = append(out, strings.Split(lines[i], ","))
	}
	return out
}

// parseIP parses "ip", "ip:port" or "[ipv6]:port", unmapping IPv4-in-IPv6.
func parseIP(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap().WithZone("")
	}
	return netip.Addr{}
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
