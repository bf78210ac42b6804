package providertest

import (
	"testing"

	"github.com/computemw/kit/computemw"
)

// WantCode fails t unless err is a kit error of class code, and returns
// it. what names the call in the message.
func WantCode(t testing.TB, what string, err error, code computemw.Code) *computemw.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got nil error, want %s", what, code)
	}
	e := computemw.AsError(err)
	if e.Code != code {
		t.Fatalf("%s: got %v (code %s), want %s", what, err, e.Code, code)
	}
	return e
}
