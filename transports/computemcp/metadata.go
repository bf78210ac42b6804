package computemcp

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// wellKnown is the prefix of protected-resource metadata paths (RFC 9728
// section 3): the metadata of https://host/api/mcp is at
// https://host/.well-known/oauth-protected-resource/api/mcp.
const wellKnown = "/.well-known/oauth-protected-resource"

// MetadataPath returns the path at which the protected-resource metadata
// of the endpoint served at endpointPath belongs: MetadataPath("/api/mcp")
// is "/.well-known/oauth-protected-resource/api/mcp". Mount
// [Server.Metadata] there, at the root of the host, outside the route
// group.
func MetadataPath(endpointPath string) string {
	return wellKnown + "/" + strings.Trim(endpointPath, "/")
}

// resourceMetadata is the protected-resource metadata document (RFC 9728
// section 2).
type resourceMetadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers,omitempty"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ResourceName           string   `json:"resource_name,omitempty"`
}

// Metadata returns the handler of the endpoint's protected-resource
// metadata document (RFC 9728), which MCP clients read to find the
// authorization servers after a 401. Mount it at [MetadataPath] of the
// endpoint's path. It answers GET (and CORS preflights: browser-based
// clients read it) to any caller of a host the kit serves: the document
// holds nothing secret.
func (s *Server) Metadata() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		switch r.Method {
		case http.MethodOptions:
			w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, MCP-Protocol-Version")
			w.WriteHeader(http.StatusNoContent)
			return
		case http.MethodGet, http.MethodHead:
		default:
			w.Header().Set("Allow", "GET, HEAD, OPTIONS")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if !s.api.HostAllowed(r.Host) {
			http.Error(w, "host not served here", http.StatusForbidden)
			return
		}
		resource := s.opts.ResourceURL
		if resource == "" {
			path := strings.TrimPrefix(requestPath(r), wellKnown)
			resource = origin(r) + path
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=3600")
		_ = json.NewEncoder(w).Encode(resourceMetadata{
			Resource:               resource,
			AuthorizationServers:   s.opts.AuthorizationServers,
			BearerMethodsSupported: []string{"header"},
			ResourceName:           s.opts.Name,
		})
	})
}

// metadataURL is the URL of the metadata of the endpoint that r reached.
func (s *Server) metadataURL(r *http.Request) string {
	if s.opts.ResourceURL != "" {
		if u, err := url.Parse(s.opts.ResourceURL); err == nil && u.Host != "" {
			return u.Scheme + "://" + u.Host + MetadataPath(u.Path)
		}
	}
	return origin(r) + MetadataPath(requestPath(r))
}

// requestPath is the path the client asked for: the request URI's, which
// a prefix-stripping mount (http.StripPrefix) leaves whole.
func requestPath(r *http.Request) string {
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != "" {
		return u.Path
	}
	return r.URL.Path
}

// origin is scheme://host of the request.
func origin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// challenge adds the resource_metadata parameter (RFC 9728 section 5.1) to
// the Bearer challenge the kit's authenticator set, or makes one.
func challenge(set, metadataURL string) string {
	param := `resource_metadata="` + strings.ReplaceAll(metadataURL, `"`, `%22`) + `"`
	if strings.HasPrefix(strings.ToLower(set), "bearer") {
		if strings.TrimSpace(set[len("bearer"):]) == "" {
			return "Bearer " + param
		}
		return set + ", " + param
	}
	return "Bearer " + param
}
