//go:build !js

package vendorhttp

import (
	"net/http"

	"github.com/computemw/kit/computemw/oteltrace"
)

// traced is next with the requests made in a step the kit traces as
// client spans under it.
func traced(next http.RoundTripper) http.RoundTripper { return oteltrace.Transport(next) }
