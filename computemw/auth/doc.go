// Package auth is the authentication policy of computemw. It finds out who
// the caller is, from a JWT bearer token or an API key, and puts that
// caller's [computemw.Principal] (ID, role, plan) in the request's
// context, where roles (computemw/rbac), rate limits (computemw/ratelimit)
// and quotas (computemw/quota) read it. Its [Authenticator] is a
// [computemw.Policy]: it guards every operation from every framework and
// transport, WebSocket messages included.
//
// # Wiring
//
// Build one Authenticator and list it first in Config.Policies:
//
//	authn, err := auth.New(auth.Config{
//		JWT: &auth.JWTConfig{
//			Algorithms: []string{"RS256"},
//			JWKSURL:    "https://id.example.com/.well-known/jwks.json",
//			Issuer:     "https://id.example.com/",
//			Audience:   "code-runner",
//		},
//		APIKeys: map[string]computemw.Principal{
//			auth.HashAPIKey(os.Getenv("CI_API_KEY")): {ID: "ci", Role: "user", Plan: "pro"},
//		},
//	})
//	if err != nil {
//		return err
//	}
//	defer authn.Close(ctx) // after kit.Close: stops the key set's refresh
//	kit, err := computemw.New(computemw.Config{
//		Providers: providers,
//		Policies:  []computemw.Policy{authn, roles, limits, quotas},
//	})
//
// Callers send "Authorization: Bearer <jwt>", or an API key as
// "X-API-Key: <key>" or "Authorization: ApiKey <key>" (an Authorization
// header wins over X-API-Key). An application that authenticated the
// caller itself puts the principal in the context with
// [computemw.WithPrincipal]; the Authenticator admits it as it is.
//
// # Answers on failure
//
//	status  code            message (WWW-Authenticate error)           when
//	401     UNAUTHORIZED    authentication required                    no credentials
//	401     UNAUTHORIZED    unsupported authentication scheme          an Authorization scheme other than Bearer or ApiKey,
//	                        (invalid_request)                          or JWT/API keys not configured for the one sent
//	401     UNAUTHORIZED    invalid token (invalid_token)              bad signature, algorithm not allowed, expired,
//	                                                                   not yet valid, wrong iss or aud, no ID claim
//	401     UNAUTHORIZED    token expired (invalid_token)              a WebSocket message after the connection's token expired
//	401     UNAUTHORIZED    invalid API key (invalid_token)            an API key not in Config.APIKeys
//	503     UNAVAILABLE     token keys are unavailable                 the JWKS cannot be fetched and holds no key for the
//	                                                                   token (with Retry-After)
//
// Every 401 carries a WWW-Authenticate challenge, Bearer realm="computemw"
// (Config.Realm). Why a token failed stays in the error's cause (Err of
// the [computemw.Error]), never in the answer.
//
// # Configuration
//
// [Config]:
//   - JWT: bearer tokens, see below. APIKeys: the hex SHA-256 of each key
//     ([HashAPIKey]) mapped to its principal; the server never holds the
//     keys. At least one of the two is required.
//   - PublicOps: operations that need no credentials; default
//     [DefaultPublicOps], the health and readiness probes. GET /metrics is
//     not public: add computemw.OpMetrics, or give the scraper an API key.
//   - Realm (default "computemw"), Now (the clock; tests set it), Logger.
//
// [JWTConfig]:
//   - Algorithms (required): the allow-list, such as []string{"RS256"};
//     "none" and every algorithm not listed are refused.
//   - Keys: each bound to one algorithm, so a public RSA key can never be
//     used as an HMAC secret. HS* secrets are at least 32 bytes, RSA keys
//     at least 2048 bits.
//   - JWKSURL: a key set fetched at start, refreshed every JWKSMaxAge
//     (1 hour); a token with an unknown kid refetches it at most once per
//     JWKSMinRefresh (1 minute) and waits at most JWKSRefreshWait
//     (2 seconds). HTTPClient fetches it.
//   - Issuer, Audience, Leeway; AllowNoExpiration accepts tokens without
//     "exp" (refused by default).
//   - Claims: the claims the principal comes from ("sub", "role", "plan"
//     by default), or Principal, a function of your own.
//   - CacheSize: verified tokens remembered, each for at most a minute and
//     never past its expiry (10,000; negative disables).
package auth
