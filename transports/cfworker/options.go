package cfworker

import (
	"cmp"
	"errors"
)

// Options configure [Serve].
type Options struct {
	// MaxRequestBytes bounds the body of the request served; a larger one
	// is answered 413 PAYLOAD_TOO_LARGE (at once when its Content-Length
	// says so, else when the handler reads past it). Default 10 MiB.
	MaxRequestBytes int64
	// MaxResponseBytes bounds the body of the answer, streamed or not;
	// an answer past it is replaced by 502 UNAVAILABLE when it is still
	// held (the handler has not flushed), and cut when it streams.
	// Default 10 MiB.
	MaxResponseBytes int64
}

func (o *Options) setDefaults() {
	o.MaxRequestBytes = cmp.Or(o.MaxRequestBytes, 10<<20)
	o.MaxResponseBytes = cmp.Or(o.MaxResponseBytes, 10<<20)
}

// ErrNotWorker is what [Serve] returns in a program that was not started
// by the Worker's module cfworker.mjs for a request: built for another
// platform, or run by other JavaScript.
var ErrNotWorker = errors.New("cfworker: not started by a Cloudflare Worker's fetch event (build with GOOS=js GOARCH=wasm and load it with cfworker.mjs)")

// MaxFetchBodyBytes bounds the body of one outbound request sent through
// [Transport], which fetch is given whole.
const MaxFetchBodyBytes = 32 << 20

// slotsGlobal names the JavaScript Map, kept by cfworker.mjs, from a Go
// instance's id (its os.Args[1]) to the request it serves.
const slotsGlobal = "__computemwWorker"
