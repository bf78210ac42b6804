// Package vendorhttp holds the HTTP client policy of remote providers.
//
// Every remote provider must send every request to a vendor's services (its
// control plane and the agent inside each sandbox) through a client from
// [New]. Such a client is pinned to one origin (scheme, host and port):
//
//   - it adds the credentials it was given (an API key, an access token)
//     itself, and only to requests for that origin;
//   - it refuses, before sending anything, a request for any other origin
//     (an [*OriginError]);
//   - it never follows a redirect: a 3xx answer becomes a [*RedirectError]
//     and its body is discarded.
//
// The agents a provider talks to (E2B's envd, Daytona's toolbox) run inside
// the tenant's own sandbox, so the tenant chooses their answers. A followed
// redirect would let a tenant make the server fetch an internal URL and read
// the answer as a file, or carry the provider's credentials to another
// tenant's sandbox on the same host. No vendor API a provider uses documents
// a redirect it must follow; a provider that one day needs one must follow
// it itself, to the same origin only, and say why.
//
// Both errors are permanent: [Permanent] reports them, and a provider must
// not retry a call that failed with one.
package vendorhttp
