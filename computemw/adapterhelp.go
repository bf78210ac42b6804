package computemw

import (
	"context"
	"strings"
)

// This file holds the small pieces of translation that every framework
// adapter would otherwise write again: route patterns in the ":name" syntax
// of Gin, Echo and Fiber, path parameters, the status and message a
// framework's own error type should carry, and the log line for an error
// that came too late to be sent.

// ColonPath returns the route's path with each {name} parameter written as
// :name, the syntax of the Gin, Echo and Fiber routers.
func (rt Route) ColonPath() string {
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
func (rt Route) ParamNames() []string {
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
// accessor) into the map that [Request].Params holds. It returns nil when
// names is empty, so routes without parameters allocate nothing.
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
// is rendered with by [Kit.ErrorResponse]. Adapters use it to build their
// framework's own error value (*echo.HTTPError, *fiber.Error), so that an
// app whose framework error handler is not the kit's still answers with the
// right status, and without the internal detail of a 500.
func PublicError(err error) (status int, message string) {
	e := AsError(err)
	if e == nil {
		return 200, ""
	}
	if e.Code == CodeInternal {
		return e.Status(), ErrInternal.Message
	}
	return e.Status(), e.Message
}

// LogLateError logs an error that a handler reported after its response
// had started, when the status can no longer change: the error is not lost,
// and no second response is written.
func (k *Kit) LogLateError(ctx context.Context, err error) {
	k.log.ErrorContext(ctx, "computemw: error after the response started",
		"requestId", RequestIDFrom(ctx), "status", StatusOf(err), "error", err)
}
