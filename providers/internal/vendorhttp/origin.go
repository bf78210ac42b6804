package vendorhttp

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// origin is a URL's scheme, host and port, compared as RFC 6454 compares
// origins: the scheme and host case-insensitively, a missing port as the
// scheme's default.
type origin struct {
	scheme, host, port string
}

// parseOrigin returns the origin of an absolute http or https URL.
func parseOrigin(raw string) (origin, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return origin{}, fmt.Errorf("vendorhttp: base URL: %w", err)
	}
	o, ok := originOf(u)
	if !ok {
		return origin{}, fmt.Errorf("vendorhttp: base URL %q is not an absolute http(s) URL", raw)
	}
	return o, nil
}

// originOf returns u's origin; ok is false unless u is an absolute http
// or https URL with a host.
func originOf(u *url.URL) (o origin, ok bool) {
	if u == nil || u.Host == "" {
		return origin{}, false
	}
	o.scheme = strings.ToLower(u.Scheme)
	switch o.scheme {
	case "http":
		o.port = "80"
	case "https":
		o.port = "443"
	default:
		return origin{}, false
	}
	o.host = strings.ToLower(u.Hostname())
	if o.host == "" {
		return origin{}, false
	}
	if p := u.Port(); p != "" {
		o.port = p
	}
	return o, true
}

// String is the origin as scheme://host:port.
func (o origin) String() string {
	return o.scheme + "://" + net.JoinHostPort(o.host, o.port)
}
