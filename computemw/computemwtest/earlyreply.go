package computemwtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
)

// earlyReplyTransport sends each request on a connection of its own and
// returns the server's answer even when the server answered before it had
// read the whole body and the rest of the upload then failed, as a server
// refusing a request on its headers may (net/http's transport reports the
// failed upload instead). Upgrade requests go to next.
type earlyReplyTransport struct {
	next http.RoundTripper
}

func (t earlyReplyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Upgrade") != "" {
		return t.next.RoundTrip(req)
	}
	var d net.Dialer
	conn, err := d.DialContext(req.Context(), "tcp", req.URL.Host)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(req.Context(), func() { conn.Close() })
	out := req.Clone(req.Context())
	out.Close = true // one request per connection
	written := make(chan error, 1)
	go func() { written <- out.Write(conn) }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), out)
	if err != nil {
		stop()
		conn.Close()
		if werr := <-written; werr != nil {
			return nil, fmt.Errorf("recorder: write: %v; read: %w", werr, err)
		}
		return nil, fmt.Errorf("recorder: read: %w", err)
	}
	// The request's writer ends when its write does: at the latest
	// when the connection is closed with the body.
	resp.Body = &connBody{ReadCloser: resp.Body, conn: conn, stop: stop}
	return resp, nil
}

// connBody closes its connection when the response body is closed.
type connBody struct {
	io.ReadCloser
	conn net.Conn
	stop func() bool
}

func (b *connBody) Close() error {
	err := b.ReadCloser.Close()
	b.stop()
	b.conn.Close()
	return err
}
