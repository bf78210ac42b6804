// Package graphql serves computemw over GraphQL: queries and mutations over
// HTTP POST, and a subscription that streams an execution's output over
// WebSocket (the graphql-transport-ws protocol of the npm graphql-ws
// client, and the older graphql-ws one). It is an http.Handler, mounted on
// net/http or any framework that takes one:
//
//	mux.Handle("/graphql", graphql.New(kit, graphql.Options{}))
//
// A document is admitted before it is parsed ([computemw.Kit.Admit] as
// [OpDocument]: host, authentication, rate limits), so a caller the kit
// refuses costs no parsing; its size, tokens and complexity are capped.
// Every field that creates or uses a sandbox then enters the kit like a
// request of its own: it is admitted with the caller's headers,
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
	"maps"
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
	// session mutations, execution, sendStdin, endStdin) costs
	// OperationCost more, so a document holds at most about
	// MaxComplexity/OperationCost of them.
	// Introspection fields count like the others.
	MaxComplexity int
	// OperationCost is the extra complexity of a field that creates or
	// uses a sandbox (default 50).
	OperationCost int
	// MaxTokens caps the tokens of a document (names, punctuation,
	// values: `{ a: __typename }` has 5), default 1000; a longer one is
	// refused before it is validated. Validation is quadratic in the
	// fields of a document that share a name, so this is what bounds the
	// CPU a document may cost before it is refused or run.
	MaxTokens int
	// MaxBodyBytes caps the body of a POST (default Config.MaxBodyBytes
	// of the kit, 1 MiB); past it the answer is 413 PAYLOAD_TOO_LARGE.
	// Variables are in the body: a writeFile's content counts.
	MaxBodyBytes int64
	// DisableIntrospection refuses __schema and __type queries. By
	// default introspection is served, to callers the kit admits only
	// (every document is admitted before it is parsed): the schema is the
	// one this package publishes, the same in every deployment.
	DisableIntrospection bool
	// MaxOperationsPerConn caps the operations — subscriptions, queries
	// and mutations — running at once on one WebSocket connection
	// (default 4); past it an operation gets RATE_LIMITED.
	MaxOperationsPerConn int
	// Deprecated: MaxSubscriptionsPerConn is the former name of
	// MaxOperationsPerConn, used when that is not set.
	MaxSubscriptionsPerConn int
	// InitTimeout closes a WebSocket connection whose client sends no
	// connection_init within it (default 3s, as the graphql-ws server's).
	InitTimeout time.Duration
	// MaxPendingConns caps the WebSocket connections that have not sent
	// connection_init yet (default 128), and MaxPendingConnsPerAddr those
	// of one client address (default 8; the address is the one the kit
	// believes, see Config.TrustedProxies). Such a connection holds
	// memory before its caller is known: past either cap the upgrade is
	// refused, 503 UNAVAILABLE or 429 RATE_LIMITED with Retry-After.
	MaxPendingConns        int
	MaxPendingConnsPerAddr int
	// CredentialKeys are the keys of the connection_init payload that
	// carry credentials, each copied to the header of the same name for
	// the kit's policies (default Authorization and X-API-Key). Keys are
	// matched without regard to case, at the payload's top level or in a
	// "headers" object. Only these are taken: a payload cannot pose as a
	// proxy's X-Forwarded-For.
	CredentialKeys []string
	// MaxOpenStdinPerCaller caps a caller's running executions whose
	// input is open (execution with openStdin), default 8; past it the
	// subscription gets RATE_LIMITED. The input waiting for each such
	// program is at most WSConfig.MaxMessageBytes.
	MaxOpenStdinPerCaller int
}

func (o *Options) setDefaults(cfg computemw.Config) {
	if o.MaxComplexity <= 0 {
		o.MaxComplexity = 500
	}
	if o.OperationCost <= 0 {
		o.OperationCost = 50
	}
	if o.MaxTokens <= 0 {
		o.MaxTokens = defaultMaxTokens
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = cfg.MaxBodyBytes
	}
	if o.MaxOperationsPerConn <= 0 {
		o.MaxOperationsPerConn = o.MaxSubscriptionsPerConn
	}
	if o.MaxOperationsPerConn <= 0 {
		o.MaxOperationsPerConn = 4
	}
	if o.InitTimeout <= 0 {
		o.InitTimeout = 3 * time.Second
	}
	if o.MaxPendingConns <= 0 {
		o.MaxPendingConns = 128
	}
	if o.MaxPendingConnsPerAddr <= 0 {
		o.MaxPendingConnsPerAddr = 8
	}
	if o.MaxOpenStdinPerCaller <= 0 {
		o.MaxOpenStdinPerCaller = 8
	}
	if len(o.CredentialKeys) == 0 {
		o.CredentialKeys = []string{"Authorization", "X-API-Key"}
	}
}

// Handler is the GraphQL endpoint: POST for queries and mutations, GET
// with an Upgrade for the WebSocket of subscriptions. Build it with [New].
type Handler struct {
	kit     *computemw.Kit
	cfg     computemw.Config // the kit's, with its defaults
	opts    Options
	srv     *handler.Server
	api     *httpapi.API // the kit's HTTP contract: CORS, hosts, WebSocket admission
	pending *pendingConns
	inputs  *openInputs // of the executions with open input
}

// New returns the GraphQL endpoint of kit. Mount it at one path (it
// answers every method there: POST, the WebSocket's GET, CORS preflights
// when Config.AllowedOrigins is set, and 405 for the rest).
func New(kit *computemw.Kit, opts Options) *Handler {
	opts.setDefaults(kit.Config())
	h := &Handler{kit: kit, api: httpapi.New(kit), cfg: kit.Config(), opts: opts,
		pending: newPendingConns(opts.MaxPendingConns, opts.MaxPendingConnsPerAddr),
		inputs:  newOpenInputs(opts.MaxOpenStdinPerCaller, int64(kit.Config().WebSocket.MaxMessageBytes))}
	cfg := generated.Config{Resolvers: &resolver{h: h}}
	setComplexity(&cfg.Complexity, opts.OperationCost)
	srv := handler.New(generated.NewExecutableSchema(cfg))
	srv.AddTransport(h.websocket())
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(queryCache{lru.New[*ast.QueryDocument](queryCacheSize)})
	srv.SetParserTokenLimit(opts.MaxTokens)
	srv.SetValidationRulesFn(validationRules)
	// Each document over the WebSocket is admitted before it is parsed
	// (over HTTP, ServeHTTP admits the request).
	srv.Use(documentGate{h})
	if !opts.DisableIntrospection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(&complexityLimit{max: opts.MaxComplexity})
	srv.AroundOperations(h.aroundOperation)
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
	// The caller is admitted before the body is read and the document
	// parsed, as the kit's routes admit theirs: parsing and validating a
	// document costs CPU, which only a caller the policies let in may
	// spend. The response carries the admission's headers (X-Request-ID,
	// the rate limiter's, a 401's challenge).
	actx, err := h.kit.Admit(r.Context(), OpDocument, req)
	maps.Copy(w.Header(), computemw.ResponseHeader(actx))
	if err != nil {
		h.writeError(w, err)
		return
	}
	r, err = h.readBody(r)
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
	c.Mutation.SendStdin = func(child int, _, _ string) int { return child + cost }
	c.Mutation.EndStdin = func(child int, _ string) int { return child + cost }
	c.Subscription.Execution = func(child int, _, _, _, _, _ *string, _ *int, _ *string, _ *bool) int { return child + cost }
}

// Schema returns the schema the endpoint serves (schema.graphqls), for
// tools that print or check it.
func Schema() *ast.Schema {
	return generated.NewExecutableSchema(generated.Config{}).Schema()
}
