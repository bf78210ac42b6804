package computemwtest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"

	"github.com/computemw/kit/computemw"
)

// maxRecordedBody is how much of a response body a [Recorder] keeps.
const maxRecordedBody = 1 << 20

// Recorded is one request a client sent through a [Recorder] and the
// response it got, as the client saw it.
type Recorded struct {
	// Test is the name of the test that started the server.
	Test string
	// Request has the method, URL (the server's, path and query as sent)
	// and headers; its body is not kept.
	Request *http.Request
	Status  int
	Header  http.Header
	// Body is the response body, whole unless Truncated (past 1 MiB) or
	// the client stopped reading early.
	Body      []byte
	Truncated bool
	// Complete reports that the whole body was passed on to the client
	// (false when the client or the server left midway).
	Complete bool
}

// Recorder captures the HTTP exchanges of a suite: [Recorder.Harness]
// puts a recording reverse proxy in front of every server a harness
// starts, so that a suite runs unchanged while every response it gets can
// be checked afterwards, such as against the OpenAPI document. The proxy
// keeps the Host header, forwards WebSocket upgrades and streams
// (flushing at once), and uses a fresh connection per request, so that a
// request is never retried behind the client's back.
type Recorder struct {
	mu  sync.Mutex
	all []Recorded
}

// Exchanges returns what was recorded so far, in the order the responses
// ended.
func (r *Recorder) Exchanges() []Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Recorded(nil), r.all...)
}

func (r *Recorder) add(rec Recorded) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, rec)
}

// Harness returns h whose Start serves through a recording proxy: the base
// URL it returns is the proxy's. The proxy stops before the server.
func (r *Recorder) Harness(h Harness) Harness {
	return Harness{Name: h.Name, Start: func(t *testing.T, kit *computemw.Kit) string {
		return r.Proxy(t, h.Start(t, kit))
	}}
}

// Proxy starts a recording proxy to base (an "http://host:port" URL) that
// is stopped when t ends, and returns the proxy's base URL.
func (r *Recorder) Proxy(t *testing.T, base string) string {
	t.Helper()
	target, err := url.Parse(base)
	if err != nil {
		t.Fatalf("recorder: %v", err)
	}
	transport := &http.Transport{DisableKeepAlives: true, DisableCompression: true}
	name := t.Name()
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		Transport:     earlyReplyTransport{next: transport},
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			rec := Recorded{Test: name, Request: resp.Request.Clone(resp.Request.Context()),
				Status: resp.StatusCode, Header: resp.Header.Clone()}
			rec.Request.URL.Scheme, rec.Request.URL.Host = "", ""
			if resp.StatusCode == http.StatusSwitchingProtocols {
				rec.Complete = true
				r.add(rec)
				return nil
			}
			resp.Body = &recordingBody{rc: resp.Body, rec: rec, done: r.add}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
			// The server broke the connection (a panic) or the client left.
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(func() {
		srv.Close()
		transport.CloseIdleConnections()
	})
	return srv.URL
}

// recordingBody keeps what the client reads of a response body and
// records the exchange when the body is closed.
type recordingBody struct {
	rc   io.ReadCloser
	buf  bytes.Buffer
	rec  Recorded
	eof  bool
	once sync.Once
	done func(Recorded)
}

func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if room := maxRecordedBody - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(n, room)])
	}
	if n > 0 && b.buf.Len() >= maxRecordedBody {
		b.rec.Truncated = true
	}
	if errors.Is(err, io.EOF) {
		b.eof = true
	}
	return n, err
}

func (b *recordingBody) Close() error {
	err := b.rc.Close()
	b.once.Do(func() {
		b.rec.Body = bytes.Clone(b.buf.Bytes())
		b.rec.Complete = b.eof
		b.done(b.rec)
	})
	return err
}
