// Package graphql serves computemw over GraphQL: queries and mutations over
// HTTP POST, and a subscription that streams an execution's output over
// WebSocket (the graphql-transport-ws protocol of the npm graphql-ws
// client, and the older graphql-ws one). It is an http.Handler, mounted on
// net/http or any framework that takes one:
//
//	mux.Handle("/graphql", graphql.New(kit, graphql.Options{}))
//
// Every field that creates or uses a sandbox enters the kit like a request
// of its own: it is admitted with the caller's headers ([computemw.Kit.Admit]),
// then runs through [computemw.Kit.Execute], [computemw.Sessions.Create],
// [computemw.Sessions.Destroy] or [computemw.Kit.Files], so
// authentication, RBAC, rate limits, quotas, metrics and hooks hold exactly
// as on the HTTP routes. Errors are GraphQL errors whose extensions.code is
// the kit's code (TIMEOUT, UNAUTHORIZED, RATE_LIMITED, BAD_REQUEST ...).
//
// The schema (schema.graphqls) is compiled by gqlgen into
// internal/generated; `make generate-graphql` regenerates it.
package graphql

import (
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/httpapi"
	"github.com/computemw/kit/transports/graphql/internal/generated"
)

// Options configure [New]; zero fields take the defaults.
type Options struct {
	// MaxComplexity caps a document's complexity (default 500). Every
	// field costs 1, and each field that creates or uses a sandbox
	// (executeCode, runCommand, readFile, writeFile, listFiles, the
	// session mutations, execution) costs OperationCost more, so a
	// document holds at most about MaxComplexity/OperationCost of them.
	MaxComplexity int
	// OperationCost is the extra complexity of a field that creates or
	// uses a sandbox (default 50).
	OperationCost int
	// DisableIntrospection refuses __schema and __type queries.
	DisableIntrospection bool
	// MaxSubscriptionsPerConn caps the subscriptions running at once on
	// one WebSocket connection (default 4); past it a subscription gets
	// RATE_LIMITED.
	MaxSubscriptionsPerConn int
	// InitTimeout closes a WebSocket connection whose client sends no
	// connection_init within it (default 10s).
	InitTimeout time.Duration
	// CredentialKeys are the keys of the connection_init payload that
	// carry credentials, each copied to the header of the same name for
	// the kit's policies (default Authorization and X-API-Key). Keys are
	// matched without regard to case, at the payload's top level or in a
	// "headers" object. Only these are taken: a payload cannot pose as a
	// proxy's X-Forwarded-For.
	CredentialKeys []string
}

func (o *Options) setDefaults() {
	if o.MaxComplexity <= 0 {
		o.MaxComplexity = 500
	}
	if o.OperationCost <= 0 {
		o.OperationCost = 50
	}
	if o.MaxSubscriptionsPerConn <= 0 {
		o.MaxSubscriptionsPerConn = 4
	}
	if o.InitTimeout <= 0 {
		o.InitTimeout = 10 * time.Second
	}
	if len(o.CredentialKeys) == 0 {
		o.CredentialKeys = []string{"Authorization", "X-API-Key"}
	}
}

// Handler is the GraphQL endpoint: POST for queries and mutations, GET
// with an Upgrade for the WebSocket of subscriptions. Build it with [New].
type Handler struct {
	kit  *computemw.Kit
	api  *httpapi.API     // the kit\'s HTTP contract: CORS, hosts, WebSocket admission
	cfg  computemw.Config // the kit's, with its defaults
	opts Options
	srv  *handler.Server
}

// New returns the GraphQL endpoint of kit. Mount it at one path (it
// answers every method there: POST, the WebSocket's GET, CORS preflights
// when Config.AllowedOrigins is set, and 405 for the rest).
func New(kit *computemw.Kit, opts Options) *Handler {
	opts.setDefaults()
	h := &Handler{kit: kit, api: httpapi.New(kit), cfg: kit.Config(), opts: opts}
	cfg := generated.Config{Resolvers: &resolver{h: h}}
	setComplexity(&cfg.Complexity, opts.OperationCost)
	srv := handler.New(generated.NewExecutableSchema(cfg))
	srv.AddTransport(h.websocket())
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if !opts.DisableIntrospection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.FixedComplexityLimit(opts.MaxComplexity))
	srv.SetErrorPresenter(h.presentError)
	srv.SetRecoverFunc(h.recoverPanic)
	srv.SetDisableSuggestion(true)
	h.srv = srv
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := &computemw.Request{Method: r.Method, Header: r.Header, Host: r.Host, RemoteAddr: r.RemoteAddr}
	if httpapi.IsPreflight(req) {
		writeResponse(w, h.api.Preflight(r.Context(), req, []string{http.MethodPost}))
		return
	}
	h.api.CORSHeaders(w.Header(), req)
	if !h.api.HostAllowed(r.Host) {
		h.writeError(w, computemw.Errorf(computemw.CodeForbidden, "host %q is not served here", truncate(r.Host, 64)))
		return
	}
	if r.Method == http.MethodGet && r.Header.Get("Upgrade") != "" {
		h.serveWebSocket(w, r, req)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.writeError(w, computemw.Errorf(computemw.CodeMethodNotAllowed,
			"method %s is not allowed: send queries and mutations with POST, subscriptions over WebSocket", r.Method))
		return
	}
	r, err := h.readBody(r)
	if err != nil {
		h.writeError(w, err)
		return
	}
	h.srv.ServeHTTP(w, r.WithContext(withCaller(r.Context(), req)))
}

// setComplexity gives every field that creates or uses a sandbox its
// extra cost.
func setComplexity(c *generated.ComplexityRoot, cost int) {
	c.Query.ListFiles = func(child int, _ string, _ *string) int { return child + cost }
	c.Query.ReadFile = func(child int, _ string, _ *string) int { return child + cost }
	c.Mutation.ExecuteCode = func(child int, _, _ string, _, _ *string, _ *int, _ *string) int { return child + cost }
	c.Mutation.RunCommand = func(child int, _ string, _, _, _ *string, _ *int, _ *string) int { return child + cost }
	c.Mutation.WriteFile = func(child int, _, _ string, _ *string) int { return child + cost }
	c.Mutation.CreateSession = func(child int, _, _ *string, _, _ *int) int { return child + cost }
	c.Mutation.DestroySession = func(child int, _ string) int { return child + cost }
	c.Subscription.Execution = func(child int, _, _, _, _, _ *string, _ *int, _ *string) int { return child + cost }
}

// Schema returns the schema the endpoint serves (schema.graphqls), for
// tools that print or check it.
func Schema() *ast.Schema {
	return generated.NewExecutableSchema(generated.Config{}).Schema()
}
