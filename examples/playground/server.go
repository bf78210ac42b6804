package main

import (
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/coder/websocket"
	computehttp "github.com/computemw/kit/adapters/computehttp"
	"github.com/computemw/kit/computemw"
)

// static holds the page's own files: the HTML, script and style.
//
//go:embed static
var static embed.FS

// vendorFiles are the files of the npm packages the page loads, by the
// name it asks for under /vendor/, relative to node_modules. Only these
// are served.
var vendorFiles = map[string]string{
	"xterm.js":     "@xterm/xterm/lib/xterm.js",
	"xterm.css":    "@xterm/xterm/css/xterm.css",
	"addon-fit.js": "@xterm/addon-fit/lib/addon-fit.js",
}

// docsFiles are the files of swagger-ui-dist the API page loads, by the
// name it asks for under /vendor/, relative to its node_modules. Only
// these are served.
var docsFiles = map[string]string{
	"swagger-ui.css":       "swagger-ui-dist/swagger-ui.css",
	"swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
}

// newHandler serves the page at /, its files at /static/, xterm.js from
// nodeModules at /vendor/ (404 when nodeModules is "": the page then says
// how to install it), the API page at /docs with Swagger UI from
// swaggerUI's node_modules (likewise), the route group at /api, its
// WebSocket at /api/ws and the metrics at /metrics, governed as
// /api/metrics.
func newHandler(kit *computemw.Kit, nodeModules, swaggerUI string) http.Handler {
	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit)
	// The WebSocket answers the page's subprotocol, which carries no
	// token once tokenFromProtocol has taken it out. The kit checks the
	// page's origin against AllowedHosts; the library, same-origin only.
	mux.Handle("GET /api/ws", computehttp.WebSocket(kit, &websocket.AcceptOptions{Subprotocols: []string{wsProtocol}}))
	// The metrics at the root too, where scrapers look: through the route
	// group's own handler, so that the API key and the host check of
	// /api/metrics apply there too.
	mux.Handle("GET /metrics", computehttp.Handler(kit))
	sub, _ := fs.Sub(static, "static")
	files := http.FileServerFS(sub)
	mux.Handle("GET /{$}", files)
	mux.Handle("GET /static/", http.StripPrefix("/static", files))
	mux.HandleFunc("GET /docs", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, sub, "docs.html")
	})
	mux.HandleFunc("GET /vendor/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if rel, ok := docsFiles[name]; ok {
			if swaggerUI == "" {
				http.Error(w, "Swagger UI is not installed: run 'make setup-playground'", http.StatusNotFound)
				return
			}
			http.ServeFile(w, r, filepath.Join(swaggerUI, filepath.FromSlash(rel)))
			return
		}
		rel, ok := vendorFiles[name]
		if !ok || nodeModules == "" {
			http.Error(w, "xterm.js is not installed: run 'make setup-playground'", http.StatusNotFound)
			return
		}
		http.ServeFile(w, r, filepath.Join(nodeModules, filepath.FromSlash(rel)))
	})
	return tokenFromProtocol(securityHeaders(mux))
}

// securityHeaders keeps the page from being framed or sniffed, and its
// scripts to its own origin.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
		h.ServeHTTP(w, r)
	})
}

// wsProtocol is the WebSocket subprotocol the page asks for, and
// tokenProtocol the prefix of the one that carries its token.
const (
	wsProtocol    = "computemw"
	tokenProtocol = "computemw.token."
)

// tokenFromProtocol lets the page authenticate its WebSocket: browsers
// send no Authorization header on one, and a token in the URL would be
// written to every proxy's and server's access log, so the page offers
// it as a subprotocol, "computemw.token." and the token in unpadded
// base64url, beside "computemw". This takes that entry out of the
// Sec-WebSocket-Protocol header of GET /api/ws (so that it is never
// chosen nor echoed) and puts the token in the header the kit's
// authenticator reads: a JWT as a bearer token, else an API key. A token
// that does not decode is dropped, so the caller is unauthenticated.
func tokenFromProtocol(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		offered := r.Header.Values("Sec-WebSocket-Protocol")
		if r.URL.Path != "/api/ws" || len(offered) == 0 {
			h.ServeHTTP(w, r)
			return
		}
		var keep []string
		token := ""
		for _, line := range offered {
			for p := range strings.SplitSeq(line, ",") {
				p = strings.TrimSpace(p)
				enc, ok := strings.CutPrefix(p, tokenProtocol)
				if !ok {
					keep = append(keep, p)
					continue
				}
				if b, err := base64.RawURLEncoding.DecodeString(enc); err == nil {
					token = string(b)
				}
			}
		}
		r = r.Clone(r.Context())
		r.Header.Del("Sec-WebSocket-Protocol")
		if len(keep) > 0 {
			r.Header.Set("Sec-WebSocket-Protocol", strings.Join(keep, ", "))
		}
		switch {
		case token == "":
		case strings.Count(token, ".") == 2:
			r.Header.Set("Authorization", "Bearer "+token)
		default:
			r.Header.Set("X-API-Key", token)
		}
		h.ServeHTTP(w, r)
	})
}

// findNodeModules returns the nearest .cache/node-playground/node_modules
// holding @xterm/xterm, from the working directory up, or "".
func findNodeModules() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		nm := filepath.Join(dir, ".cache", "node-playground", "node_modules")
		if hasXterm(nm) {
			return nm
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// hasXterm reports whether nodeModules holds the npm packages the page
// loads.
func hasXterm(nodeModules string) bool {
	for _, rel := range vendorFiles {
		if _, err := os.Stat(filepath.Join(nodeModules, filepath.FromSlash(rel))); err != nil {
			return false
		}
	}
	return true
}

// findSwaggerUI returns the nearest .cache/node-swagger-ui/node_modules
// holding swagger-ui-dist, from the working directory up, or "".
func findSwaggerUI() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		nm := filepath.Join(dir, ".cache", "node-swagger-ui", "node_modules")
		if hasSwaggerUI(nm) {
			return nm
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// hasSwaggerUI reports whether nodeModules holds the files the API page
// loads.
func hasSwaggerUI(nodeModules string) bool {
	for _, rel := range docsFiles {
		if _, err := os.Stat(filepath.Join(nodeModules, filepath.FromSlash(rel))); err != nil {
			return false
		}
	}
	return true
}
