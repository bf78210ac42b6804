//go:build linux

package local_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// A pooled sandbox's first execution, which its held shell starts, means
// what the same execution means as a bwrap process of its own: the same
// output, exit status, error messages, environment, working directory,
// descriptors, rlimits, processes, standard input and time limit.
func TestHeldExecutionMatchesCold(t *testing.T) {
	cold := newTestProvider(t, local.Config{WarmPool: local.PoolConfig{Size: -1}})
	warm := newTestProvider(t, local.Config{WarmPool: local.PoolConfig{Size: 1, MaxSize: 1, Workers: 1, Recycle: local.RecycleConfig{Off: true}}})
	var held atomic.Int64
	local.SetSpawnHook(warm, func(stage string) {
		if stage == "held" {
			held.Add(1)
		}
	})
	createEnv := map[string]string{"FROM_CREATE": "a 'quoted'\nvalue", "HOME": "/workspace/home"}
	cases := []struct {
		name    string
		command string
		opts    computemw.ExecOptions
	}{
		{"direct", "printenv PWD HOME FROM_CREATE", computemw.ExecOptions{}},
		{"environment", "env | sort", computemw.ExecOptions{Env: map[string]string{"FROM_EXEC": "b", "PATH": "/bin:/usr/bin"}}},
		{"directory", "pwd && env | sort", computemw.ExecOptions{Cwd: "sub/dir"}},
		{"directory through a link", "pwd; echo $PWD; ls", computemw.ExecOptions{Cwd: "link"}},
		{"descriptors", "ls /proc/self/fd | wc -l; readlink /proc/self/fd/0", computemw.ExecOptions{}},
		{"stdin", "cat; echo; readlink /proc/self/fd/0 | cut -c1-5", computemw.ExecOptions{Stdin: strings.NewReader("typed\n")}},
		{"rlimits", "ulimit -n; ulimit -f; ulimit -c", computemw.ExecOptions{}},
		{"streams and status", "echo out; echo err >&2; exit 7", computemw.ExecOptions{}},
		{"signal", "kill -9 $$", computemw.ExecOptions{}},
		{"syntax error", "if then fi", computemw.ExecOptions{}},
		{"not found", "nosuchprogram --flag", computemw.ExecOptions{}},
		{"multi-line", "echo one\necho 'two\nlines'", computemw.ExecOptions{}},
		// The program is PID 1's child, and no shell waits beside it.
		{"processes", "echo $PPID; ls /proc | grep -c '^[0-9]'", computemw.ExecOptions{}},
		{"a child left behind", "sleep 0.2 & echo started", computemw.ExecOptions{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			results := make([]*computemw.Result, 2)
			for i, p := range []*local.Provider{cold, warm} {
				if p == warm {
					waitUntil(t, "a ready sandbox", func() bool { return p.PoolStats().Ready == 1 })
				}
				before := held.Load()
				sb := newSandbox(t, p, computemw.CreateOptions{Env: createEnv})
				for _, f := range []string{"sub/dir/file", "home/.keep"} {
					if err := sb.WriteFile(t.Context(), f, []byte("x")); err != nil {
						t.Fatal(err)
					}
				}
				if err := local.Symlink(sb, "sub/dir", "link"); err != nil {
					t.Fatal(err)
				}
				opts := c.opts
				if c.opts.Stdin != nil {
					opts.Stdin = strings.NewReader("typed\n")
				}
				results[i] = run(t, sb, c.command, opts)
				if through := held.Load() > before; through != (p == warm) {
					t.Fatalf("ran through a held shell: %v, want %v", through, p == warm)
				}
			}
			want, got := results[0], results[1]
			if got.ExitCode != want.ExitCode || got.Stdout != want.Stdout || got.Stderr != want.Stderr {
				t.Errorf("held: exit %d, stdout %q, stderr %q\ncold: exit %d, stdout %q, stderr %q",
					got.ExitCode, got.Stdout, got.Stderr, want.ExitCode, want.Stdout, want.Stderr)
			}
		})
	}

	// A time limit ends the program and reports it, what it printed first
	// kept.
	t.Run("time limit", func(t *testing.T) {
		var sb computemw.Sandbox
		res := timedOutAfter(t, 300*time.Millisecond, "started", func(limit time.Duration) (*computemw.Result, error) {
			waitUntil(t, "a ready sandbox", func() bool { return warm.PoolStats().Ready == 1 })
			before := held.Load()
			sb = newSandbox(t, warm, computemw.CreateOptions{})
			res, err := bounded(t, limit+10*time.Second, func() (*computemw.Result, error) {
				return sb.Exec(t.Context(), "echo started; sleep 1000", computemw.ExecOptions{Timeout: limit})
			})
			if held.Load() == before {
				t.Fatalf("got %+v, %v; want an execution of the held shell", res, err)
			}
			return res, err
		})
		if res.Stdout != "started\n" {
			t.Fatalf("got %+v; want the output printed first", res)
		}
		// The sandbox goes on: its init starts.
		if res := run(t, sb, "echo after", computemw.ExecOptions{}); res.Stdout != "after\n" {
			t.Errorf("after the time limit: %+v", res)
		}
	})
}
