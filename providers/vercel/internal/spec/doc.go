// Package spec holds the description of the Vercel Sandbox REST API that
// the provider speaks, as an OpenAPI 3.0 document (openapi.yaml), for the
// contract fake to check every request and answer against. Vercel
// publishes no OpenAPI file for it: the document is derived from the
// vendor's TypeScript SDK, whose header comment names the files and the
// commit it describes.
package spec

import _ "embed"

// OpenAPI is the Vercel Sandbox REST API (OpenAPI 3.0, YAML).
//
//go:embed openapi.yaml
var OpenAPI []byte
