// Package spec holds the Daytona vendor API descriptions the provider's
// clients are generated from, and gives them to the contract fake, which
// validates every request against them.
package spec

import _ "embed"

// ControlPlane is the Daytona control-plane API (OpenAPI 3.0).
//
//go:embed api-openapi.yaml
var ControlPlane []byte

// Toolbox is the Daytona toolbox API, converted to OpenAPI 3 by ../gen from
// the vendor's Swagger 2.0 toolbox-swagger.yaml.
//
//go:embed toolbox-openapi3.json
var Toolbox []byte
