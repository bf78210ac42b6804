//go:build linux

package local

import (
	"slices"
	"testing"
)

func TestDirectArgv(t *testing.T) {
	direct := map[string][]string{
		"node -v":                    {"node", "-v"},
		"  python3\t-c:x  a=b  ":     {"python3", "-c:x", "a=b"},
		"/usr/bin/env FOO=1 node -v": {"/usr/bin/env", "FOO=1", "node", "-v"},
		"ls -la ./dir/sub,x+y@z%1^2": {"ls", "-la", "./dir/sub,x+y@z%1^2"},
		"true-ish --flag=value_1.2":  {"true-ish", "--flag=value_1.2"},
	}
	for cmd, want := range direct {
		got, ok := directArgv(cmd)
		if !ok || !slices.Equal(got, want) {
			t.Errorf("directArgv(%q) = %q, %v; want %q", cmd, got, ok, want)
		}
	}
	for _, cmd := range []string{
		"", "   ", "echo hi", "true", "cd /tmp", "exit 3", "FOO=1 node", "export A", ". ./env",
		"ls *.go", "ls ?", "ls [ab]", "ls ~", "echo $HOME", "a && b", "a; b", "a | b", "a > f",
		"a < f", "a &", "a 'b'", `a "b"`, `a \b`, "a `b`", "a $(b)", "a # c", "a\nb", "(a)",
		"{ a; }", "!a", "if", "while", "for", "a\x00b", "kill 1", "test -f x", "printf x",
	} {
		if got, ok := directArgv(cmd); ok {
			t.Errorf("directArgv(%q) = %q: runs without the shell", cmd, got)
		}
	}
}
