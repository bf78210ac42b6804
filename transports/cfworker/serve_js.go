//go:build js && wasm

package cfworker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall/js"
)

// Serve serves the Worker's request that started this program with h and
// returns once h has returned and the whole answer is handed to the
// Worker. h's context ends when the client goes away. It returns
// [ErrNotWorker] in a program cfworker.mjs did not start.
func Serve(h http.Handler, opts Options) error {
	opts.setDefaults()
	slot, err := takeSlot()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	jsReq := slot.Get("request")
	if signal := jsReq.Get("signal"); signal.Type() == js.TypeObject {
		// The client went away: the handler's context ends.
		onAbort := js.FuncOf(func(js.Value, []js.Value) any { cancel(); return nil })
		defer onAbort.Release()
		signal.Call("addEventListener", "abort", onAbort)
		defer signal.Call("removeEventListener", "abort", onAbort)
	}
	w := newResponseWriter(opts.MaxResponseBytes, slot.Get("resolve"))
	req, err := newRequest(ctx, jsReq, w, opts)
	switch {
	case errors.Is(err, errTooLarge):
		w.fail(http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE",
			fmt.Sprintf("the request body is larger than this Worker's limit of %d bytes", opts.MaxRequestBytes))
	case err != nil:
		w.fail(http.StatusBadRequest, "BAD_REQUEST", err.Error())
	default:
		serveHTTP(h, w, req)
		req.Body.Close()
	}
	w.finish()
	return nil
}

// takeSlot returns the request this instance was started for, which
// cfworker.mjs keeps under the id it gave the program as os.Args[1].
func takeSlot() (js.Value, error) {
	slots := js.Global().Get(slotsGlobal)
	if len(os.Args) < 2 || slots.Type() != js.TypeObject {
		return js.Value{}, ErrNotWorker
	}
	slot := slots.Call("get", os.Args[1])
	if slot.Type() != js.TypeObject {
		return js.Value{}, ErrNotWorker
	}
	slots.Call("delete", os.Args[1])
	return slot, nil
}

// errTooLarge is a request body past Options.MaxRequestBytes.
var errTooLarge = errors.New("cfworker: request body too large")

// newRequest is the Worker's Request jsReq as an *http.Request whose body
// reads jsReq's stream, at most opts.MaxRequestBytes of it.
func newRequest(ctx context.Context, jsReq js.Value, w http.ResponseWriter, opts Options) (*http.Request, error) {
	u, err := url.Parse(jsReq.Get("url").String())
	if err != nil {
		return nil, fmt.Errorf("cfworker: the request URL: %w", err)
	}
	header := headersOf(jsReq.Get("headers"))
	length := int64(-1)
	if v := header.Get("Content-Length"); v != "" {
		if length, err = strconv.ParseInt(v, 10, 64); err != nil || length < 0 {
			return nil, fmt.Errorf("cfworker: Content-Length %q is not a length", v)
		}
		if length > opts.MaxRequestBytes {
			return nil, errTooLarge
		}
	}
	var body io.ReadCloser = http.NoBody
	if stream := jsReq.Get("body"); stream.Type() == js.TypeObject {
		body = http.MaxBytesReader(w, newStreamReader(stream, nil), opts.MaxRequestBytes)
	} else {
		length = 0
	}
	req, err := http.NewRequestWithContext(ctx, jsReq.Get("method").String(), u.String(), body)
	if err != nil {
		body.Close()
		return nil, fmt.Errorf("cfworker: %w", err)
	}
	req.Header = header
	req.ContentLength = length
	req.Host = u.Host
	req.RequestURI = u.RequestURI()
	// On Cloudflare's edge CF-Connecting-IP is the client's address, set
	// by Cloudflare whatever the client sent.
	req.RemoteAddr = "0.0.0.0:0"
	if ip := header.Get("CF-Connecting-IP"); ip != "" {
		req.RemoteAddr = joinHostPort(ip)
	}
	return req, nil
}

func joinHostPort(ip string) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]:0"
	}
	return ip + ":0"
}

// headersOf copies a JavaScript Headers object.
func headersOf(h js.Value) http.Header {
	out := http.Header{}
	each := js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) >= 2 {
			out.Add(args[1].String(), args[0].String())
		}
		return nil
	})
	defer each.Release()
	h.Call("forEach", each)
	return out
}

// serveHTTP runs h as net/http's server would: a panic is logged and
// answered 500 (unless it is http.ErrAbortHandler).
func serveHTTP(h http.Handler, w *responseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler { //nolint:errorlint // net/http compares the same way
				slog.Error("cfworker: handler panicked", "panic", v)
			}
			w.fail(http.StatusInternalServerError, "INTERNAL_ERROR", "internal error")
		}
	}()
	h.ServeHTTP(w, r)
}
