package jobs

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// deniedNetworks are refused as callback addresses unless
// WebhookConfig.AllowedNetworks lets them: loopback, link-local (cloud
// metadata services), private and shared ranges, and the unspecified,
// multicast and reserved ones.
var deniedNetworks = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("ff00::/8"),
}

// addressAllowed reports whether a callback may reach ip.
func (w *WebhookConfig) addressAllowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range w.AllowedNetworks {
		if p.Contains(ip) {
			return true
		}
	}
	for _, p := range deniedNetworks {
		if p.Contains(ip) {
			return false
		}
	}
	return ip.IsValid()
}

// checkURL refuses a callback URL that is malformed or whose host
// resolves to an address that is not allowed. The same check runs again
// on every connection (see control), so that a name that resolves
// elsewhere later (DNS rebinding) is refused then.
func (w *WebhookConfig) checkURL(ctx context.Context, raw string) error {
	if len(raw) > 2048 {
		return fmt.Errorf("callbackUrl is longer than 2048 bytes")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("callbackUrl must be an absolute http or https URL")
	}
	if u.Scheme == "http" && w.RequireHTTPS {
		return fmt.Errorf("callbackUrl must be https")
	}
	if u.User != nil {
		return fmt.Errorf("callbackUrl must not carry credentials")
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if !w.addressAllowed(ip) {
			return fmt.Errorf("callbackUrl's address %s is not allowed", ip)
		}
		return nil
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(lctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return fmt.Errorf("callbackUrl's host %q does not resolve", host)
	}
	for _, ip := range ips {
		if !w.addressAllowed(ip) {
			return fmt.Errorf("callbackUrl's host %q resolves to %s, which is not allowed", host, ip.Unmap())
		}
	}
	return nil
}

// control is the dialer's check of the address it is about to connect
// to, after name resolution.
func (w *WebhookConfig) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("jobs: webhook: unexpected address %q", address)
	}
	if !w.addressAllowed(ap.Addr()) {
		return fmt.Errorf("jobs: webhook: address %s is not allowed: %w", ap.Addr(), errRefusedAddress)
	}
	return nil
}
