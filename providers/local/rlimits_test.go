//go:build linux

package local_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// Every process of a sandbox has the file size, open files and core dump
// rlimits, soft and hard, whether the sandbox's shell set them (a first
// execution) or its init set them on itself (an execution through the
// init, a pooled sandbox's). A write past the file size limit is a
// RESOURCE_ERROR.
func TestRlimits(t *testing.T) {
	const maxFile, maxOpen = 1 << 20, 200
	p := newTestProvider(t, local.Config{MaxFileBytes: maxFile, MaxOpenFiles: maxOpen, WarmPool: local.PoolConfig{Size: 1, MaxSize: 1, Workers: 1}})
	want := []*regexp.Regexp{
		regexp.MustCompile(fmt.Sprintf(`Max file size\s+%d\s+%d\s+bytes`, maxFile, maxFile)),
		regexp.MustCompile(fmt.Sprintf(`Max open files\s+%d\s+%d\s+files`, maxOpen, maxOpen)),
		regexp.MustCompile(`Max core file size\s+0\s+0\s+bytes`),
	}
	check := func(what string, sb computemw.Sandbox) {
		t.Helper()
		res := run(t, sb, "cat /proc/self/limits", computemw.ExecOptions{})
		for _, re := range want {
			if !re.MatchString(res.Stdout) {
				t.Errorf("%s: no %q in\n%s", what, re, res.Stdout)
			}
		}
	}
	cold := newSandbox(t, p, computemw.CreateOptions{Resources: computemw.Resources{MemoryMB: 128}})
	check("first execution", cold)
	check("through the init", cold)
	if local.SandboxInitPID(cold) == 0 {
		t.Fatal("the second execution did not start the init")
	}
	waitUntil(t, "a ready sandbox", func() bool { return p.PoolStats().Ready == 1 })
	pooled := newSandbox(t, p, computemw.CreateOptions{})
	check("pooled sandbox", pooled)
	if p.PoolStats().Hits == 0 {
		t.Fatal("the sandbox did not come from the pool")
	}
	_, err := pooled.Exec(t.Context(), "head -c 2000000 /dev/zero > big", computemw.ExecOptions{})
	if !isCode(err, computemw.CodeResource) {
		t.Errorf("writing past the file size limit: %v, want %s", err, computemw.CodeResource)
	}
	// Nor can a program raise them.
	res := run(t, pooled, "ulimit -n 4096; ulimit -n", computemw.ExecOptions{})
	if res.Stdout != fmt.Sprintf("%d\n", maxOpen) {
		t.Errorf("after raising the open files limit, it is %q (stderr %q), want %d", res.Stdout, res.Stderr, maxOpen)
	}
}
