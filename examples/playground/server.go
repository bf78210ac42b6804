package main

import (
	"embed"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

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

// newHandler serves the page at /, its files at /static/, xterm.js from
// nodeModules at /vendor/ (404 when nodeModules is "": the page then says
// how to install it), the route group at /api and metrics at /metrics.
func newHandler(kit *computemw.Kit, metrics http.Handler, nodeModules string) http.Handler {
	mux := http.NewServeMux()
	computehttp.Mount(mux, "/api", kit) // includes GET /api/ws
	mux.Handle("GET /metrics", metrics)
	sub, _ := fs.Sub(static, "static")
	files := http.FileServerFS(sub)
	mux.Handle("GET /{$}", files)
	mux.Handle("GET /static/", http.StripPrefix("/static", files))
	mux.HandleFunc("GET /vendor/{name}", func(w http.ResponseWriter, r *http.Request) {
		rel, ok := vendorFiles[r.PathValue("name")]
		if !ok || nodeModules == "" {
			http.Error(w, "xterm.js is not installed: run 'make setup-playground'", http.StatusNotFound)
			return
		}
		http.ServeFile(w, r, filepath.Join(nodeModules, filepath.FromSlash(rel)))
	})
	return tokenFromQuery(securityHeaders(mux))
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

// tokenFromQuery lets the page authenticate its WebSocket: browsers send
// no Authorization header on one, so the page puts its token in the
// query of GET /api/ws, and this moves it into the header the kit's
// authenticator reads (a JWT as a bearer token, else an API key). Only
// that path is rewritten.
func tokenFromQuery(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/ws" || !r.URL.Query().Has("token") {
			h.ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		token := q.Get("token")
		q.Del("token")
		r = r.Clone(r.Context())
		r.URL.RawQuery = q.Encode()
		r.RequestURI = r.URL.RequestURI()
		if strings.Count(token, ".") == 2 {
			r.Header.Set("Authorization", "Bearer "+token)
		} else {
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
