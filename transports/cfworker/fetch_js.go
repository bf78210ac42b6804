//go:build js && wasm

package cfworker

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall/js"
)

// Transport is the RoundTripper of outbound HTTP in a Worker: each request
// is a call of the Worker's fetch, with redirects not followed (a 3xx is
// the answer), the request body sent whole (at most [MaxFetchBodyBytes]),
// the response body streamed, and the call aborted when the request's
// context ends.
func Transport() http.RoundTripper { return fetchTransport{} }

type fetchTransport struct{}

// RoundTrip implements http.RoundTripper.
func (fetchTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	opt := js.Global().Get("Object").New()
	opt.Set("method", req.Method)
	opt.Set("redirect", "manual")
	headers := js.Global().Get("Headers").New()
	for name, values := range req.Header {
		if strings.EqualFold(name, "Host") || strings.EqualFold(name, "Content-Length") {
			continue
		}
		for _, v := range values {
			headers.Call("append", name, v)
		}
	}
	if req.Host != "" && req.Host != req.URL.Host {
		return nil, fmt.Errorf("cfworker: fetch cannot send Host %q to %s", req.Host, req.URL.Host)
	}
	opt.Set("headers", headers)
	if req.Body != nil && req.Body != http.NoBody {
		body, err := io.ReadAll(io.LimitReader(req.Body, MaxFetchBodyBytes+1))
		if err != nil {
			return nil, fmt.Errorf("cfworker: reading the request body: %w", err)
		}
		if len(body) > MaxFetchBodyBytes {
			return nil, fmt.Errorf("cfworker: a request body over %d bytes cannot be sent through fetch", MaxFetchBodyBytes)
		}
		if len(body) > 0 {
			buf := uint8Array.New(len(body))
			js.CopyBytesToJS(buf, body)
			opt.Set("body", buf)
		}
	}
	ac := js.Global().Get("AbortController").New()
	opt.Set("signal", ac.Get("signal"))
	stop := context.AfterFunc(req.Context(), func() { ac.Call("abort") })

	res, err := await(js.Global().Call("fetch", req.URL.String(), opt))
	if err != nil {
		stop()
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("cfworker: fetch %s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	status := res.Get("status").Int()
	resp := &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        headersOf(res.Get("headers")),
		ContentLength: -1,
		Request:       req,
	}
	if n, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
		resp.ContentLength = n
	}
	stream := res.Get("body")
	if req.Method == http.MethodHead {
		stream = js.Null()
	}
	resp.Body = &ctxBody{r: newStreamReader(stream, func() { stop() }), ctx: req.Context()}
	return resp, nil
}

// ctxBody reports the request context's error, not the abort's, when a
// read fails because the context ended.
type ctxBody struct {
	r   *streamReader
	ctx context.Context
}

func (b *ctxBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		if ctxErr := b.ctx.Err(); ctxErr != nil {
			return n, ctxErr
		}
	}
	return n, err
}

func (b *ctxBody) Close() error { return b.r.Close() }
