package vendorhttp

import (
	"errors"
	"io"
	"net/http"
	"slices"
)

// New returns a client for the services at baseURL's origin (scheme, host
// and port; the path does not matter). It sends its requests through
// base's Transport (http.DefaultTransport when base or its Transport is
// nil) with base's Timeout, so clients made from one base share their
// connections. Whatever base's CheckRedirect and Jar say, the client
// follows no redirect and keeps no cookies.
//
// Each header of creds (credentials: "X-API-Key", "Authorization", ...) is
// set on every request the client sends, and on no other: the client
// refuses a request for another origin before sending it.
//
// base's Transport must not follow redirects by itself (no
// http.RoundTripper in the standard library does).
//
// A request made with the context of a step the kit traces
// (computemw.Config.Tracer from the oteltrace package) is an HTTP client
// span under that step; any other is sent as it is (oteltrace.Transport;
// not in a js/wasm build, such as a Cloudflare Worker's, which it would
// make larger).
func New(base *http.Client, baseURL string, creds http.Header) (*http.Client, error) {
	o, err := parseOrigin(baseURL)
	if err != nil {
		return nil, err
	}
	c := &http.Client{CheckRedirect: refuseRedirect}
	var next http.RoundTripper
	if base != nil {
		next, c.Timeout = base.Transport, base.Timeout
	}
	if next == nil {
		next = http.DefaultTransport
	}
	canon := http.Header{}
	for k, vs := range creds {
		for _, v := range vs {
			canon.Add(k, v)
		}
	}
	// Requests made in a step the kit traces are client spans under it.
	c.Transport = &transport{next: traced(next), origin: o, creds: canon}
	return c, nil
}

// refuseRedirect is the client's CheckRedirect. The transport already
// turns every 3xx into an error, so it is a second guard only.
func refuseRedirect(req *http.Request, _ []*http.Request) error {
	if req.Response != nil {
		return &RedirectError{Status: req.Response.StatusCode, Location: location(req.Response)}
	}
	return errors.New("vendorhttp: a redirect is never followed")
}

// transport pins requests to one origin, adds the credentials, and turns
// redirects into errors.
type transport struct {
	next   http.RoundTripper
	origin origin
	creds  http.Header
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if o, ok := originOf(req.URL); !ok || o != t.origin {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		got := "an invalid URL"
		if ok {
			got = o.String()
		}
		return nil, &OriginError{Origin: t.origin.String(), Got: got}
	}
	if len(t.creds) > 0 {
		// A RoundTripper must not change the request it is given.
		req = req.Clone(req.Context())
		for k, v := range t.creds {
			req.Header[k] = slices.Clone(v)
		}
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		re := &RedirectError{Status: resp.StatusCode, Location: location(resp)}
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		_ = resp.Body.Close()
		return nil, re
	}
	return resp, nil
}

// CloseIdleConnections closes the idle connections of the wrapped
// transport, as http.Client.CloseIdleConnections expects.
func (t *transport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func location(resp *http.Response) string {
	l := resp.Header.Get("Location")
	if len(l) > 256 {
		l = l[:256]
	}
	return l
}
