package computemw

import (
	"net"
	"net/url"
	"strings"
)

// hostAllowed reports whether host (a Host header: name or name:port) is
// one the kit serves: any when Config.AllowedHosts is empty; else one
// entry matches, an entry with a port exactly, one without on any port.
func (k *Kit) hostAllowed(host string) bool {
	if len(k.cfg.AllowedHosts) == 0 {
		return true
	}
	host = strings.ToLower(host)
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.Trim(name, "[]")
	for _, a := range k.cfg.AllowedHosts {
		a = strings.ToLower(a)
		if a == host || strings.Trim(a, "[]") == name {
			return true
		}
	}
	return false
}

// originAllowed reports whether a browser page of origin (scheme://host
// [:port]) may open the kit's WebSocket: one of Config.AllowedOrigins
// ("*" is any), or, when that is empty, a page of a host the kit serves
// (Config.AllowedHosts) — never merely the host the request names, which a
// DNS-rebound page controls. An empty origin is a client that is not a
// browser page. When neither list is set, the adapter's WebSocket library
// applies its own same-origin rule.
func (k *Kit) originAllowed(origin string) bool {
	if origin == "" {
		return true
	}
	if len(k.cfg.AllowedOrigins) > 0 {
		for _, a := range k.cfg.AllowedOrigins {
			if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
				return true
			}
		}
		return false
	}
	if len(k.cfg.AllowedHosts) == 0 {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && k.hostAllowed(u.Host)
}

// ChecksOrigins reports whether the kit checks WebSocket origins itself
// (Config.AllowedOrigins or Config.AllowedHosts is set), so that an
// adapter turns its WebSocket library's own same-origin check off rather
// than refuse the cross-origin pages the kit allows.
func (k *Kit) ChecksOrigins() bool {
	return len(k.cfg.AllowedOrigins) > 0 || len(k.cfg.AllowedHosts) > 0
}
