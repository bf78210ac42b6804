//go:build linux

package local_test

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// A command without shell syntax that the sandbox's init starts without a
// shell means what it means to the shell: the same output, exit status
// and error messages as the same command run by /bin/sh as a sandbox's
// first execution, including programs the init cannot start itself.
func TestDirectCommandsMatchTheShell(t *testing.T) {
	p := newTestProvider(t, local.Config{WarmPool: local.PoolConfig{Size: -1}})
	direct := directStarts(p)
	setup := func(sb computemw.Sandbox) {
		t.Helper()
		files := map[string]string{"noshebang": "echo from a script without #!\n", "plain": "not executable\n"}
		for name, body := range files {
			if err := sb.WriteFile(t.Context(), name, []byte(body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	warm := newSandbox(t, p, computemw.CreateOptions{})
	setup(warm)
	run(t, warm, "chmod +x noshebang", computemw.ExecOptions{}) // its first execution
	cases := []struct {
		command string
		direct  bool // started without a shell
	}{
		{"printenv PWD HOME", true},
		{"ls -a", true},
		{"nosuchprogram --flag", false},
		{"./noshebang", false},
		{"./plain", false},
		{"/workspace/plain", false},
		{"echo builtin", false},
	}
	for _, c := range cases {
		// A sandbox's first execution runs under the shell.
		fresh := newSandbox(t, p, computemw.CreateOptions{})
		setup(fresh)
		want := run(t, fresh, "chmod +x noshebang && "+c.command, computemw.ExecOptions{})

		before := direct.Load()
		got := run(t, warm, c.command, computemw.ExecOptions{})
		if got.ExitCode != want.ExitCode || got.Stdout != want.Stdout || got.Stderr != want.Stderr {
			t.Errorf("%q through the init: exit %d, stdout %q, stderr %q; under the shell: exit %d, stdout %q, stderr %q",
				c.command, got.ExitCode, got.Stdout, got.Stderr, want.ExitCode, want.Stdout, want.Stderr)
		}
		if ran := direct.Load() > before; ran != c.direct {
			t.Errorf("%q started without a shell: %v, want %v", c.command, ran, c.direct)
		}
	}
}

// A sandbox's first execution starts a command without shell syntax
// without a shell where the shell would find the same program on the
// host's system directories, and means the same: output, status and
// messages as the shell's own start of it (`exec command`). Everything
// else goes to the shell.
func TestFirstExecutionStartsDirectly(t *testing.T) {
	p := newTestProvider(t, local.Config{WarmPool: local.PoolConfig{Size: -1}})
	direct := directStarts(p)
	cases := []struct {
		command string
		direct  bool
	}{
		{"printenv PWD HOME", true},
		{"ls -a", true},
		{"/usr/bin/env -u PATH printenv HOME", true},
		{"nosuchprogram --flag", false},
		{"./plain", false},
		{"/workspace/plain", false},
		{"echo builtin", false},
	}
	for _, c := range cases {
		fresh := func() computemw.Sandbox {
			sb := newSandbox(t, p, computemw.CreateOptions{})
			if err := sb.WriteFile(t.Context(), "plain", []byte("not executable\n")); err != nil {
				t.Fatal(err)
			}
			return sb
		}
		want := run(t, fresh(), "exec "+c.command, computemw.ExecOptions{})
		before := direct.Load()
		got := run(t, fresh(), c.command, computemw.ExecOptions{})
		if got.ExitCode != want.ExitCode || got.Stdout != want.Stdout || strings.ReplaceAll(got.Stderr, "exec: ", "") != strings.ReplaceAll(want.Stderr, "exec: ", "") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; under the shell: exit %d, stdout %q, stderr %q",
				c.command, got.ExitCode, got.Stdout, got.Stderr, want.ExitCode, want.Stdout, want.Stderr)
		}
		if ran := direct.Load() > before; ran != c.direct {
			t.Errorf("%q started without a shell: %v, want %v", c.command, ran, c.direct)
		}
	}
}

// directStarts counts the commands p starts without a shell.
func directStarts(p *local.Provider) *atomic.Int64 {
	var n atomic.Int64
	local.SetSpawnHook(p, func(stage string) {
		if stage == "direct" {
			n.Add(1)
		}
	})
	return &n
}
