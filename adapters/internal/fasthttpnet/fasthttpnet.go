// Package fasthttpnet serves a net/http handler on fasthttp, for the
// adapters on fasthttp (Fiber v2 and v3): the extra endpoints of the route
// group (httpapi.Endpoint) that a transport serves as an http.Handler.
package fasthttpnet

import (
	"context"
	"net/http"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// Serve serves h for ctx through fasthttp's net/http adaptor, which
// streams what h flushes (Server-Sent Events arrive as they are written).
// The request's context also answers the values of values, the
// framework's context of the request (Fiber's user context): a principal
// that the application's middleware put there reaches h, as it does on
// net/http. Only values are taken from it, once h reads them.
func Serve(ctx *fasthttp.RequestCtx, h http.Handler, values context.Context) {
	fasthttpadaptor.NewFastHTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(valuesCtx{Context: r.Context(), values: values}))
	}))(ctx)
}

// valuesCtx is a context whose values are those of values, then those of
// the embedded context, which keeps its cancellation.
type valuesCtx struct {
	context.Context
	values context.Context
}

func (c valuesCtx) Value(key any) any {
	if v := c.values.Value(key); v != nil {
		return v
	}
	return c.Context.Value(key)
}
