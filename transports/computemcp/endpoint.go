package computemcp

import "github.com/computemw/kit/computemw/httpapi"

// EndpointPath is the path of [Server.Endpoint] in the route group: in a
// group at /api, the MCP endpoint is /api/mcp.
const EndpointPath = "/mcp"

// Endpoint returns the server as an endpoint of the route group, at
// [EndpointPath], for a framework adapter's Register (or computehttp's
// Mount) to serve on every framework:
//
//	computegin.Register(r.Group("/api"), kit, srv.Endpoint())
//
// The protected-resource metadata stays at the root of the host, outside
// the group: mount [Server.Metadata] at [MetadataPath] of the endpoint's
// full path ("/api/mcp") with the framework's own router. For another
// path, pass httpapi.Endpoint{Path: "/agents", Handler: srv}.
func (s *Server) Endpoint() httpapi.Endpoint {
	return httpapi.Endpoint{Path: EndpointPath, Handler: s}
}
