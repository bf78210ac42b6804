package computemw_test

import (
	"context"
	"net/http"
	"net/netip"
	"testing"

	"github.com/computemw/kit/computemw"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	cases := []struct {
		name    string
		remote  string
		ctxAddr string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"direct", "203.0.113.7:1234", "", nil, trusted, "203.0.113.7"},
		{"untrusted peer's header is ignored", "203.0.113.7:1234", "", []string{"1.2.3.4"}, trusted, "203.0.113.7"},
		{"no trusted proxies", "10.0.0.2:5", "", []string{"1.2.3.4"}, nil, "10.0.0.2"},
		{"trusted proxy", "10.0.0.2:5", "", []string{"1.2.3.4"}, trusted, "1.2.3.4"},
		{"spoofed left entries", "10.0.0.2:5", "", []string{"6.6.6.6, 1.2.3.4"}, trusted, "1.2.3.4"},
		{"proxy chain", "10.0.0.2:5", "", []string{"1.2.3.4, 10.0.0.9"}, trusted, "1.2.3.4"},
		{"all trusted", "10.0.0.2:5", "", []string{"10.0.0.8, 10.0.0.9"}, trusted, "10.0.0.8"},
		{"malformed hop", "10.0.0.2:5", "", []string{"1.2.3.4, garbage"}, trusted, "10.0.0.2"},
		{"several header lines", "10.0.0.2:5", "", []string{"6.6.6.6", "1.2.3.4, 10.0.0.3"}, trusted, "1.2.3.4"},
		{"ipv6 peer", "[2001:db8::1]:443", "", nil, trusted, "2001:db8::1"},
		{"ipv6 proxy", "[fd00::1]:443", "", []string{"2001:db8::5"}, trusted, "2001:db8::5"},
		{"ipv4 in ipv6", "[::ffff:1.2.3.4]:80", "", nil, trusted, "1.2.3.4"},
		{"address from the context", "", "198.51.100.1:9", nil, trusted, "198.51.100.1"},
		{"unknown", "", "", nil, trusted, "invalid IP"},
		{"garbage peer", "pipe", "", []string{"1.2.3.4"}, trusted, "invalid IP"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			if c.ctxAddr != "" {
				ctx = computemw.WithRemoteAddr(ctx, c.ctxAddr)
			}
			h := http.Header{}
			for _, v := range c.xff {
				h.Add("X-Forwarded-For", v)
			}
			got := computemw.ClientIP(ctx, &computemw.Request{RemoteAddr: c.remote, Header: h}, c.trusted)
			if got.String() != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

// onlyGet is a Header that cannot list repeated lines.
type onlyGet map[string]string

func (h onlyGet) Get(k string) string { return h[k] }

// A Header that returns only the first X-Forwarded-For line is not
// believed: the client may have written that line itself.
func TestClientIPNeedsEveryForwardedLine(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	r := &computemw.Request{RemoteAddr: "10.0.0.2:4000", Header: onlyGet{"X-Forwarded-For": "6.6.6.6"}}
	if got := computemw.ClientIP(context.Background(), r, trusted); got.String() != "10.0.0.2" {
		t.Errorf("client IP %s, want the peer 10.0.0.2", got)
	}
	h := http.Header{}
	h.Add("X-Forwarded-For", "6.6.6.6")
	h.Add("X-Forwarded-For", "203.0.113.9")
	r = &computemw.Request{RemoteAddr: "10.0.0.2:4000", Header: h}
	if got := computemw.ClientIP(context.Background(), r, trusted); got.String() != "203.0.113.9" {
		t.Errorf("client IP %s, want 203.0.113.9", got)
	}
}
