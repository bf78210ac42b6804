// Package adapterkit holds what every framework adapter of computemw
// needs and would otherwise write again, so that no adapter imports
// another: route patterns in the ":name" syntax of Gin, Echo and Fiber,
// path parameters, the status and message of a framework's own error
// value, the net/http response writer, and the WebSocket endpoint over
// net/http. The framework-neutral contract itself — the route table
// ([httpapi.API.Routes]), requests and responses, the WebSocket protocol
// ([httpapi.API.ServeConn]) — is in the core.
package adapterkit

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"strings"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
)

// ColonPath returns the route's path with each {name} parameter written as
// :name, the syntax of the Gin, Echo and Fiber routers.
func ColonPath(rt httpapi.Route) string {
	if !strings.Contains(rt.Path, "{") {
		return rt.Path
	}
	segs := strings.Split(rt.Path, "/")
	for i, seg := range segs {
		if name, ok := paramName(seg); ok {
			segs[i] = ":" + name
		}
	}
	return strings.Join(segs, "/")
}

// ParamNames lists the route's {name} parameters in path order.
func ParamNames(rt httpapi.Route) []string {
	var out []string
	for _, seg := range strings.Split(rt.Path, "/") {
		if name, ok := paramName(seg); ok {
			out = append(out, name)
		}
	}
	return out
}

func paramName(seg string) (string, bool) {
	if len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}' {
		return seg[1 : len(seg)-1], true
	}
	return "", false
}

// PathParams reads the values of names with get (the router's parameter
// accessor) into the map that [computemw.Request].Params holds. It returns
// nil when names is empty, so routes without parameters allocate nothing.
func PathParams(names []string, get func(name string) string) map[string]string {
	if len(names) == 0 {
		return nil
	}
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = get(n)
	}
	return m
}

// PublicError returns the HTTP status and the client-safe message that err
// is rendered with by [httpapi.API.ErrorResponse]. Adapters use it to
// build their framework's own error value (*echo.HTTPError, *fiber.Error),
// so that an app whose framework error handler is not the kit's still
// answers with the right status, and without the internal detail of a 500.
func PublicError(err error) (status int, message string) {
	e := computemw.AsError(err)
	if e == nil {
		return 200, ""
	}
	if e.Code == computemw.CodeInternal {
		return computemw.StatusOf(e), computemw.ErrInternal.Message
	}
	return computemw.StatusOf(e), e.Message
}

// Write writes a response on net/http; a streaming one (Server-Sent
// Events) runs until it ends or ctx (the client's) is done.
func Write(ctx context.Context, w http.ResponseWriter, resp *httpapi.Response) {
	maps.Copy(w.Header(), resp.Header)
	w.WriteHeader(resp.Status)
	if resp.Stream != nil {
		rc := http.NewResponseController(w)
		_ = resp.Stream(ctx, w, rc.Flush)
		return
	}
	_, _ = w.Write(resp.Body)
}

// Request is the kit's view of a net/http request (method, headers, host,
// client address, body), with path parameters read by param for names.
// param may be nil when names is empty.
func Request(r *http.Request, names []string, param func(string) string) *computemw.Request {
	return &computemw.Request{
		Method: r.Method, Header: r.Header, Host: r.Host, Body: r.Body, RemoteAddr: r.RemoteAddr,
		Params: PathParams(names, param), RawQuery: r.URL.RawQuery, Path: requestPath(r),
	}
}

// requestPath is the path the client asked for: that of the request line,
// which a router's prefix stripping (http.StripPrefix, chi's Mount) leaves
// as it was.
func requestPath(r *http.Request) string {
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != "" {
		return u.EscapedPath()
	}
	return r.URL.EscapedPath()
}
