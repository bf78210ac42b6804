package httpapi

import (
	"fmt"
	"net/http"
	"strings"
)

// Endpoint is an extra endpoint of the route group that a transport
// serves as an http.Handler, such as the MCP server of
// transports/computemcp. An application passes it to an adapter's
// Register (or Mount), which serves it under the group at Path for every
// method, handing the handler the request as net/http's (the Fiber
// adapters through fasthttp's net/http adaptor) with a writer that
// flushes, so Server-Sent Events stream. The handler applies the kit's
// policies itself (host, CORS, admission): the adapter neither admits nor
// rewrites the request, and r.RequestURI keeps the path the client asked
// for.
//
// The adapters import no transport: the transport builds the Endpoint
// (computemcp's Server.Endpoint), the application hands it over, and its
// lifetime is the application's, as the handler's is.
type Endpoint struct {
	// Path is relative to the group's prefix ("/mcp" serves /api/mcp in
	// a group at /api): one static path, without parameters, wildcards or
	// a trailing slash, and not one of the prebuilt routes.
	Path string
	// Handler serves every method of the path.
	Handler http.Handler
}

// CheckEndpoints reports the first endpoint of eps that an adapter cannot
// serve: a path that is not static, that begins with the first segment of
// a prebuilt route (or /ws), which routers could not tell apart from it,
// or that two endpoints share, or a nil handler. Adapters call it in Register
// and panic on its error, as routers do on a conflicting route.
func (k *API) CheckEndpoints(eps []Endpoint) error {
	taken := map[string]bool{"/ws": true}
	for _, rt := range k.Routes() {
		taken[firstSegment(rt.Path)] = true
	}
	for _, e := range eps {
		p := e.Path
		switch {
		case e.Handler == nil:
			return fmt.Errorf("computemw: endpoint %q has no handler", p)
		case len(p) < 2 || p[0] != '/' || strings.HasSuffix(p, "/") || strings.ContainsAny(p, "{}:*?#% \t") || strings.Contains(p, "//"):
			return fmt.Errorf("computemw: endpoint path %q must be one static path under the group, such as \"/mcp\"", p)
		case taken[firstSegment(p)]:
			return fmt.Errorf("computemw: endpoint path %q is under a path of the route group or of another endpoint", p)
		}
		taken[firstSegment(p)] = true
	}
	return nil
}

// firstSegment is "/a" of "/a/b".
func firstSegment(p string) string {
	if i := strings.IndexByte(p[1:], '/'); i >= 0 {
		return p[:i+1]
	}
	return p
}
