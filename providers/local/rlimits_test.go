//go:build linux

package local_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
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

// The server sets a sandbox's rlimits on its first process before the
// program runs, so that no shell starts for them; doing so as the
// sandbox's uid (a root server without CAP_SYS_RESOURCE) leaves every
// thread of the server with its own ids.
func TestRlimitsSetBeforeTheProgram(t *testing.T) {
	const maxOpen = 300
	p := newTestProvider(t, local.Config{MaxOpenFiles: maxOpen, WarmPool: local.PoolConfig{Size: -1}})
	if !local.LimitsBeforeRun(p) {
		if os.Getenv("CI") != "" {
			t.Fatal("the provider cannot set rlimits before a sandbox runs")
		}
		t.Skip("this host refuses prlimit(2) on the sandboxes' processes: their shell sets the rlimits")
	}
	argv := []string{"cat", "/proc/self/limits"}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sb := newSandbox(t, p, computemw.CreateOptions{})
			got, err := local.ProfileArgv(sb, argv)
			if err != nil || !slices.Equal(got, argv) {
				t.Errorf("the profile runs %q (%v), want %q", got, err, argv)
			}
			res := run(t, sb, strings.Join(argv, " "), computemw.ExecOptions{})
			if !regexp.MustCompile(fmt.Sprintf(`Max open files\s+%d\s+%d\s`, maxOpen, maxOpen)).MatchString(res.Stdout) {
				t.Errorf("first execution's limits:\n%s", res.Stdout)
			}
		}()
	}
	wg.Wait()
	uid, gid := fmt.Sprint(os.Getuid()), fmt.Sprint(os.Getgid())
	tasks, _ := filepath.Glob("/proc/self/task/*/status")
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // a thread that ended meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			if (k == "Uid" && !allEqual(strings.Fields(v), uid)) || (k == "Gid" && !allEqual(strings.Fields(v), gid)) {
				t.Errorf("%s: %s:%s, want the server's own ids", f, k, v)
			}
		}
	}
}

func allEqual(values []string, want string) bool {
	for _, v := range values {
		if v != want {
			return false
		}
	}
	return true
}
