// Package hostmatch decides which Host names and browser origins a kit
// answers, from Config.AllowedHosts and Config.AllowedOrigins: the one
// rule the engine's admission and the HTTP contract share.
package hostmatch

import (
	"net"
	"net/url"
	"strings"
)

// Host reports whether host (a Host header: name or name:port) is one of
// allowed: any when allowed is empty; else one entry matches, an entry
// with a port exactly, one without on any port.
func Host(allowed []string, host string) bool {
	if len(allowed) == 0 {
		return true
	}
	host = strings.ToLower(host)
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.Trim(name, "[]")
	for _, a := range allowed {
		a = strings.ToLower(a)
		if a == host || strings.Trim(a, "[]") == name {
			return true
		}
	}
	return false
}

// Origin reports whether a browser page of origin (scheme://host[:port])
// may open a kit's WebSocket: one of origins ("*" is any), or, when that
// is empty, a page of one of hosts — never merely the host the request
// names, which a DNS-rebound page controls. An empty origin is a client
// that is not a browser page. When neither list is set, any origin passes
// here and the WebSocket library applies its own same-origin rule.
func Origin(origins, hosts []string, origin string) bool {
	if origin == "" {
		return true
	}
	if len(origins) > 0 {
		for _, a := range origins {
			if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
				return true
			}
		}
		return false
	}
	if len(hosts) == 0 {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && Host(hosts, u.Host)
}
