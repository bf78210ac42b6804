package computemw_test

import (
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/computemwtest"
	"github.com/computemw/kit/computemw/httpapi"
)

// The host and origin rules of the kit's routes and WebSocket, as a
// transport of its own checks them.
func TestHostAndOriginAllowed(t *testing.T) {
	kit, _ := computemwtest.SuiteKit(t, computemw.Config{
		AllowedHosts: []string{"app.example"}, AllowedOrigins: []string{"https://front.example"}})
	for host, want := range map[string]bool{"app.example": true, "app.example:8080": true, "evil.example": false} {
		if got := httpapi.New(kit).HostAllowed(host); got != want {
			t.Errorf("HostAllowed(%q) = %v", host, got)
		}
	}
	for origin, want := range map[string]bool{"": true, "https://front.example": true, "https://evil.example": false} {
		if got := httpapi.New(kit).OriginAllowed(origin); got != want {
			t.Errorf("OriginAllowed(%q) = %v", origin, got)
		}
	}
}
