package vendorhttp

import (
	"errors"
	"fmt"
)

// RedirectError is the error of an answer with a 3xx status. The redirect
// was not followed.
type RedirectError struct {
	// Status is the answer's HTTP status (301, 302, 307, ...).
	Status int
	// Location is the answer's Location header, as sent (at most 256
	// bytes of it); it may be empty.
	Location string
}

// Error implements error.
func (e *RedirectError) Error() string {
	if e.Location == "" {
		return fmt.Sprintf("answered HTTP %d, a redirect, which is never followed", e.Status)
	}
	return fmt.Sprintf("answered HTTP %d, a redirect to %q, which is never followed", e.Status, e.Location)
}

// OriginError is the error of a request for a URL outside the client's
// origin. Nothing was sent.
type OriginError struct {
	// Origin is the client's origin ("https://api.example.com:443").
	Origin string
	// Got is the origin of the refused request's URL.
	Got string
}

// Error implements error.
func (e *OriginError) Error() string {
	return fmt.Sprintf("refused to send a request to %s: this client sends only to %s", e.Got, e.Origin)
}

// Permanent reports whether err, or an error it wraps, is a
// [*RedirectError] or an [*OriginError]: sending the request again gets
// the same answer, so it must not be retried.
func Permanent(err error) bool {
	var re *RedirectError
	var oe *OriginError
	return errors.As(err, &re) || errors.As(err, &oe)
}
