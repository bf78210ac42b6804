package httpapi

import "github.com/computemw/kit/computemw/internal/hostmatch"

// HostAllowed reports whether host (a Host header: name or name:port) is
// one the kit serves: any when Config.AllowedHosts is empty. The kit's
// admission refuses the others with 403; a transport that must decide
// before it admits anyone (a handshake) asks here.
func (k *API) HostAllowed(host string) bool { return hostmatch.Host(k.cfg.AllowedHosts, host) }

// OriginAllowed reports whether a browser page of origin may open the
// kit's WebSocket: one of Config.AllowedOrigins ("*" is any), else a page
// of Config.AllowedHosts; any page when neither is set.
func (k *API) OriginAllowed(origin string) bool {
	return hostmatch.Origin(k.cfg.AllowedOrigins, k.cfg.AllowedHosts, origin)
}

// ChecksOrigins reports whether the kit checks WebSocket origins itself
// (Config.AllowedOrigins or Config.AllowedHosts is set), so that an
// adapter turns its WebSocket library's own same-origin check off rather
// than refuse the cross-origin pages the kit allows.
func (k *API) ChecksOrigins() bool {
	return len(k.cfg.AllowedOrigins) > 0 || len(k.cfg.AllowedHosts) > 0
}
