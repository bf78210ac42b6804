package e2bfake

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Exchange is one request the fake answered, as recorded for the spec
// check.
type Exchange struct {
	// Op is the operation the request matched: "METHOD /path" of the
	// control plane's or envd's OpenAPI description, or the RPC's name
	// ("process.Process/Start"); "" when it matched none.
	Op string
	// Host, Method and Path are the request's.
	Host, Method, Path string
	// Status is the answer's HTTP status (0 when the connection was
	// dropped before one was sent).
	Status int
	// Checked is set when the request was validated against the vendor's
	// API descriptions (the OpenAPI files, or the protos for an RPC) and
	// passed.
	Checked bool
	// Problem is what the check found wrong ("" when nothing); such a
	// request is answered 400 without being served. A REST answer the
	// description does not declare is a problem too.
	Problem string
	// AnswerChecked is set when the fake's own answer (a REST one: the
	// RPCs' are the generated code's) was validated against the
	// operation's declared responses and passed.
	AnswerChecked bool
}

// Exchanges returns every exchange so far, in the order answered.
func (f *Fake) Exchanges() []Exchange {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Exchange(nil), f.exchanges...)
}

// maxRequestBody caps the request body the fake reads to check it.
const maxRequestBody = 64 << 20

// maxAnswerBody caps the answer body kept to check it; a larger one has
// its status and headers checked only.
const maxAnswerBody = 1 << 20

// statusWriter keeps an answer's status, and when keep is set its body,
// while passing them on.
type statusWriter struct {
	http.ResponseWriter
	status   int
	keep     bool
	body     bytes.Buffer
	overflow bool
	// injected is set when the answer is an injected fault's.
	injected bool
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.keep && !w.overflow {
		if w.body.Len()+len(p) > maxAnswerBody {
			w.overflow = true
		} else {
			w.body.Write(p)
		}
	}
	return w.ResponseWriter.Write(p)
}

// Flush passes on a flush, which the streaming RPCs need.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if fl, ok := w.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// checkSpec validates a request against the vendor's description of the
// host it was sent to; body is the request's body, already read.
// The answer to a REST request is checked too: the matched operation is
// returned for that (nil for an RPC).
func checkSpec(r *http.Request, body []byte) (string, *matched, error) {
	apiSpec, envdSpec, err := validators()
	if err != nil {
		return "", nil, err
	}
	api, id := hostKind(r.Host)
	switch {
	case api:
		return apiSpec.check(r, body)
	case id == "":
		return "", nil, fmt.Errorf("host %q is neither the control plane nor a sandbox's envd", r.Host)
	case strings.HasPrefix(r.URL.Path, "/process.") || strings.HasPrefix(r.URL.Path, "/filesystem."):
		op, err := checkRPC(r, body)
		return op, nil, err
	default:
		return envdSpec.check(r, body)
	}
}

// serveChecked reads a request's body, checks the request against the
// vendor's descriptions and records the exchange; a request that does not
// match them fails the test and is answered 400 without being served.
func (f *Fake) serveChecked(w http.ResponseWriter, r *http.Request, serve http.HandlerFunc) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sw := &statusWriter{ResponseWriter: w}
	ex := Exchange{Host: r.Host, Method: r.Method, Path: r.URL.Path}
	defer func() {
		ex.Status = sw.status
		f.mu.Lock()
		f.exchanges = append(f.exchanges, ex)
		f.mu.Unlock()
	}()
	var m *matched
	ex.Op, m, err = checkSpec(r, body)
	if err != nil {
		ex.Problem = err.Error()
		f.errorf("request not valid against the vendor's API description: %v", err)
		writeError(sw, http.StatusBadRequest, "e2bfake: request not valid against the vendor's API description: "+err.Error())
		return
	}
	ex.Checked = true
	sw.keep = m != nil
	defer func() {
		if m == nil || sw.status == 0 {
			return
		}
		if err := m.checkAnswer(sw.status, sw.Header(), sw.body.Bytes(), !sw.overflow, sw.injected); err != nil {
			ex.Problem = err.Error()
			f.errorf("the fake's answer is not valid against the vendor's API description: %v", err)
			return
		}
		ex.AnswerChecked = true
	}()
	serve(sw, r)
}
