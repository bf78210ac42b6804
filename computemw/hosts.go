package computemw

import "github.com/computemw/kit/computemw/internal/hostmatch"

// hostAllowed reports whether host is one the kit serves
// (Config.AllowedHosts).
func (k *Kit) hostAllowed(host string) bool { return hostmatch.Host(k.cfg.AllowedHosts, host) }

// originAllowed reports whether a browser page of origin may open the
// kit's WebSocket (Config.AllowedOrigins, else Config.AllowedHosts).
func (k *Kit) originAllowed(origin string) bool {
	return hostmatch.Origin(k.cfg.AllowedOrigins, k.cfg.AllowedHosts, origin)
}
