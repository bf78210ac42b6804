// Command testworker is a Worker for the tests of transports/cfworker:
// each route exercises one thing the bridge does (the tests build it with
// GOOS=js GOARCH=wasm and run it on workerd). Its outbound fetches go to
// http://upstream.test, which the test's workerd config sends to a server
// of the test.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/computemw/kit/transports/cfworker"
)

func main() {
	if err := cfworker.Serve(routes(), cfworker.Options{MaxRequestBytes: 1024, MaxResponseBytes: 4096}); err != nil {
		slog.Error("testworker", "error", err)
		os.Exit(1)
	}
}

func routes() http.Handler {
	mux := http.NewServeMux()
	// The request as the handler sees it, and the body back.
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		w.Header().Set("X-Echo", r.Header.Get("X-Test"))
		w.Header().Set("X-Host", r.Host)
		w.Header().Set("X-Query", r.URL.Query().Get("q"))
		w.Header().Set("X-Remote", r.RemoteAddr)
		w.Header().Add("X-Multi", "one")
		w.Header().Add("X-Multi", "two")
		w.WriteHeader(http.StatusCreated)
		w.Write(body)
	})
	// n bytes of answer.
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Write([]byte(strings.Repeat("a", n)))
	})
	// A streamed answer: the first line goes out before the upstream's
	// /wait answers, which the test lets it do only once it has read it.
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, "http://upstream.test/wait", nil)
		if err != nil {
			panic(err)
		}
		resp, err := cfworker.Transport().RoundTrip(req)
		if err != nil {
			io.WriteString(w, "error: "+err.Error()+"\n")
			return
		}
		resp.Body.Close()
		io.WriteString(w, "second\n")
	})
	// A streamed answer that goes past the bound: it is cut.
	mux.HandleFunc("GET /stream-big", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		if _, err := w.Write([]byte(strings.Repeat("b", 4096))); err == nil {
			panic("a write past the bound succeeded")
		}
	})
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	mux.HandleFunc("GET /empty", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	// An outbound call through the transport itself (an http.Client would
	// follow redirects on its own), reported as JSON.
	mux.HandleFunc("/fetch", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if d, err := time.ParseDuration(r.URL.Query().Get("timeout")); err == nil {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		method := r.URL.Query().Get("method")
		var body io.Reader
		if method == http.MethodPost {
			body = r.Body
		}
		req, err := http.NewRequestWithContext(ctx, method, "http://upstream.test"+r.URL.Query().Get("path"), body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.Header.Set("X-Test", "out")
		out := map[string]any{}
		resp, err := cfworker.Transport().RoundTrip(req)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			out["status"], out["location"], out["body"] = resp.StatusCode, resp.Header.Get("Location"), string(b)
			err = rerr
		}
		if err != nil {
			out["error"] = err.Error()
			out["deadline"] = errors.Is(err, context.DeadlineExceeded)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	})
	return mux
}
