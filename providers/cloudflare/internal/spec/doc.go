// Package spec holds the OpenAPI description of Cloudflare's Sandbox HTTP
// bridge, the Worker the cloudflare provider talks to, and gives it to the
// contract fake, which validates every exchange against it.
//
// Upstream: github.com/cloudflare/sandbox-sdk, packages/sandbox/src/bridge/openapi.ts
// at commit 6abf639caffa6dd20dcdba6f957ab203ece4cb01 (2026-08-14,
// @cloudflare/sandbox 0.12.7; the file last changed in b48fa304e01d,
// 2026-06-24). The bridge serves the same document at GET /v1/openapi.json.
// Upstream writes it as a TypeScript object literal; bridge-openapi.json is
// that object serialised with JSON.stringify (two-space indent), nothing
// else changed. To refresh it, evaluate the object of a newer openapi.ts
// the same way and note its commit here.
package spec

import _ "embed"

// Bridge is the bridge's API description (OpenAPI 3.1).
//
//go:embed bridge-openapi.json
var Bridge []byte
