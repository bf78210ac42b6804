//go:build linux

package local_test

import (
	"context"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// tryCreate creates a sandbox that may be refused; one that is created is
// destroyed when the test ends.
func tryCreate(t *testing.T, p computemw.Provider, opts computemw.CreateOptions) (computemw.Sandbox, error) {
	t.Helper()
	sb, err := p.Create(t.Context(), opts)
	if err == nil {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = sb.Destroy(ctx)
		})
	}
	return sb, err
}

// Protection: the environment's bounds (envLimits). A 70,000-byte value
// is over the 64 KiB cap: it is a BAD_REQUEST, at once, wherever it comes
// from, and never a request stuck writing bwrap's arguments.
func TestEnvTooLargeRefused(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	big := strings.Repeat("v", 70000)
	_, err := tryCreate(t, p, computemw.CreateOptions{Env: map[string]string{"BIG": big}})
	wantCode(t, err, computemw.CodeBadRequest)

	sb := newSandbox(t, p, computemw.CreateOptions{})
	_, err = bounded(t, 20*time.Second, func() (*computemw.Result, error) {
		return sb.Exec(t.Context(), "true", computemw.ExecOptions{Env: map[string]string{"BIG": big}})
	})
	wantCode(t, err, computemw.CodeBadRequest)

	many := map[string]string{}
	for i := range 300 {
		many["V"+strconv.Itoa(i)] = "x"
	}
	_, err = bounded(t, 20*time.Second, func() (*computemw.Result, error) {
		return sb.Exec(t.Context(), "true", computemw.ExecOptions{Env: many})
	})
	wantCode(t, err, computemw.CodeBadRequest)

	// Each part within the cap, together over it.
	half := strings.Repeat("h", 40000)
	sbHalf := newSandbox(t, p, computemw.CreateOptions{Env: map[string]string{"A": half}})
	_, err = bounded(t, 20*time.Second, func() (*computemw.Result, error) {
		return sbHalf.Exec(t.Context(), "true", computemw.ExecOptions{Env: map[string]string{"B": half}})
	})
	wantCode(t, err, computemw.CodeBadRequest)
}

// An environment just under the cap, larger together with the rest of the
// profile than a pipe's buffer (64 KiB), reaches the program whole.
func TestEnvNearCapRuns(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	env := map[string]string{}
	for i := 1; i <= 5; i++ {
		env["V"+strconv.Itoa(i)] = strings.Repeat(strconv.Itoa(i), 13000)
	}
	sb := newSandbox(t, p, computemw.CreateOptions{Env: env})
	res, err := bounded(t, 20*time.Second, func() (*computemw.Result, error) {
		return sb.Exec(t.Context(), `echo ${#V1} ${#V5}`, computemw.ExecOptions{Timeout: 10 * time.Second})
	})
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if res.Stdout != "13000 13000\n" {
		t.Errorf("stdout %q, stderr %q", res.Stdout, res.Stderr)
	}
}

// Names must be identifiers: a shell could not read the others, and '='
// or NUL would change the meaning of the argument list.
func TestEnvInvalidNamesRefused(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	sb := newSandbox(t, p, computemw.CreateOptions{})
	for _, name := range []string{"", "A=B", "1X", "A B", "A\x00B", "É"} {
		_, err := tryCreate(t, p, computemw.CreateOptions{Env: map[string]string{name: "v"}})
		wantCode(t, err, computemw.CodeBadRequest)
		_, err = sb.Exec(t.Context(), "true", computemw.ExecOptions{Env: map[string]string{name: "v"}})
		wantCode(t, err, computemw.CodeBadRequest)
	}
}

// onlyLoopback fails unless the sandbox's network is its own loopback.
func onlyLoopback(t *testing.T, procNetDev string) {
	t.Helper()
	var ifaces []string
	for line := range strings.Lines(procNetDev) {
		if name, _, ok := strings.Cut(line, ":"); ok {
			ifaces = append(ifaces, strings.TrimSpace(name))
		}
	}
	if !slices.Equal(ifaces, []string{"lo"}) {
		t.Errorf("network interfaces in the sandbox: %v, want only lo", ifaces)
	}
}

// Protection: NUL is refused in every environment value (profile.go), so
// a value cannot end one bwrap argument and start another: with
// "x\x00--share-net" a sandbox would get the host's network.
func TestEnvNULCannotInjectBwrapOptions(t *testing.T) {
	p := newTestProvider(t, local.Config{})
	const evil = "x\x00--share-net"
	env := map[string]string{"EVIL": evil}

	t.Run("create", func(t *testing.T) {
		sb, err := tryCreate(t, p, computemw.CreateOptions{Env: env})
		if err == nil {
			res := run(t, sb, "cat /proc/net/dev", computemw.ExecOptions{})
			onlyLoopback(t, res.Stdout)
		}
		wantCode(t, err, computemw.CodeBadRequest)
	})
	t.Run("exec", func(t *testing.T) {
		sb := newSandbox(t, p, computemw.CreateOptions{})
		res, err := sb.Exec(t.Context(), "cat /proc/net/dev", computemw.ExecOptions{Env: env})
		if err == nil {
			onlyLoopback(t, res.Stdout)
		}
		wantCode(t, err, computemw.CodeBadRequest)
	})
	t.Run("terminal", func(t *testing.T) {
		sb := newSandbox(t, p, computemw.CreateOptions{})
		term, err := sb.(computemw.TerminalOpener).OpenTerminal(t.Context(), computemw.TerminalOptions{
			Command: "cat /proc/net/dev", Cols: 200, Rows: 50, Env: env,
		})
		if err == nil {
			out, _ := io.ReadAll(term)
			_, _ = term.Wait()
			_ = term.Close()
			onlyLoopback(t, strings.ReplaceAll(string(out), "\r", ""))
		}
		wantCode(t, err, computemw.CodeBadRequest)
	})
	t.Run("command", func(t *testing.T) {
		sb := newSandbox(t, p, computemw.CreateOptions{})
		_, err := sb.Exec(t.Context(), "true\x00--share-net", computemw.ExecOptions{})
		wantCode(t, err, computemw.CodeBadRequest)
	})
}
