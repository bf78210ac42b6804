package httpapi

import (
	"strings"
	"testing"

	"github.com/computemw/kit/computemw"
)

// A WebSocket execute message's arguments are checked before the message
// is admitted, with the kit's bounds and wording.
func TestValidateArgsBeforeAdmission(t *testing.T) {
	for _, c := range []struct {
		name, command string
		args          []string
		msg           string
	}{
		{"none", "", nil, ""},
		{"shell characters", "", []string{"$(id)", ";", "*", "", "a b"}, ""},
		{"at the count bound", "", make([]string, computemw.MaxArgs), ""},
		{"over the count bound", "", make([]string, computemw.MaxArgs+1), "more than 256 arguments"},
		{"at the size bound", "", []string{strings.Repeat("x", computemw.MaxArgsBytes-1)}, ""},
		{"over the size bound", "", []string{strings.Repeat("x", computemw.MaxArgsBytes)}, "bytes in all"},
		{"NUL", "", []string{"ok", "a\x00b"}, "argument 1 contains a NUL byte"},
		{"for a command", "echo", []string{"x"}, "args are for a program"},
	} {
		err := validateArgs(c.command, c.args)
		if c.msg == "" {
			if err != nil {
				t.Errorf("%s: unexpected error %v", c.name, err)
			}
			continue
		}
		if e := computemw.AsError(err); e.Code != computemw.CodeBadRequest || !strings.Contains(e.Message, c.msg) {
			t.Errorf("%s: got %s %q, want BAD_REQUEST containing %q", c.name, e.Code, e.Message, c.msg)
		}
	}
}
