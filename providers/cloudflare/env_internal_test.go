package cloudflare

import (
	"maps"
	"os/exec"
	"testing"
)

// The env file reads back as it was written, by the provider and by sh,
// whatever the values hold.
func TestEnvFileRoundTrip(t *testing.T) {
	env := map[string]string{
		"A": "1", "QUOTE": "it's", "QUOTES": "'''", "LINES": "one\ntwo\n", "DOLLAR": "$HOME `x` \\n",
		"EMPTY": "", "SPACE": " a b ", "UTF8": "ü ß",
	}
	text := encodeEnv(env)
	if got := decodeEnv(text); !maps.Equal(got, env) {
		t.Errorf("decodeEnv(encodeEnv(env)) = %q, want %q", got, env)
	}
	for k, v := range env {
		out, err := exec.Command("sh", "-c", text+`printf %s "$`+k+`"`).Output()
		if err != nil || string(out) != v {
			t.Errorf("sh reads %s as %q (%v), want %q", k, out, err, v)
		}
	}
}
