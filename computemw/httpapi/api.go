// Package httpapi is the HTTP and WebSocket contract of the computemw kit:
// the prebuilt route group (POST /execute, /exec, /files, sessions under
// /sandboxes, GET /health, /metrics ...), its JSON shapes and error
// bodies, CORS, Server-Sent Events and the WebSocket protocol. It is a
// client of the engine, package computemw, and uses only its exported API.
//
// Application authors rarely import it: a framework adapter
// (adapters/computehttp, computegin, ...) mounts it. Adapter authors
// build an [API] once per kit and translate their framework's requests
// into [computemw.Request]s for [API.ServeRoute], [API.EnterRequest],
// [API.AdmitWebSocket] and [API.ServeConn]. A transport that is an http.Handler
// (the MCP server) reaches every adapter as an [Endpoint] of the group,
// which the application hands to the adapter's Register.
package httpapi

import (
	"log/slog"

	"github.com/computemw/kit/computemw"
)

// API serves the HTTP contract of one kit. Build it with [New]; it is
// safe for concurrent use and cheap to make.
type API struct {
	kit *computemw.Kit
	cfg computemw.Config
	log *slog.Logger
}

// New returns the HTTP contract of kit.
func New(kit *computemw.Kit) *API {
	return &API{kit: kit, cfg: kit.Config(), log: kit.Config().Logger}
}

// Kit returns the engine the API serves.
func (k *API) Kit() *computemw.Kit { return k.kit }
