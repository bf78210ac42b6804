//go:build linux

package local_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// A sandbox's first process is born in the sandbox's cgroup v1 groups:
// bwrap is started from a thread of the server that joined them for the
// moment, so bwrap's monitor is in the groups too (a process moved there
// after its start would leave the monitor outside), and every thread of
// the server is back in its own groups afterwards. A process cap too low
// for that start falls back to moving the first process.
func TestSandboxProcessesAreBornInTheirCgroup(t *testing.T) {
	for _, tc := range []struct {
		name        string
		maxProcs    int
		monitorWant bool
	}{
		{"born", 0, true},
		{"moved under a low process cap", 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProvider(t, local.Config{})
			if p.CgroupVersion() != 1 {
				t.Skipf("threads join sandbox groups on cgroup v1 only; this host has v%d", p.CgroupVersion())
			}
			if !local.TmpfsWorkspaces(p) {
				t.Skip("sandboxes start from the provider's own threads only when it runs as root")
			}
			confined := make(chan struct{}, 1)
			local.SetSpawnHook(p, func(stage string) {
				if stage == "confined" {
					select {
					case confined <- struct{}{}:
					default:
					}
				}
			})
			sb := newSandbox(t, p, computemw.CreateOptions{Resources: computemw.Resources{MaxProcesses: tc.maxProcs}})
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() {
				_, err := sb.Exec(ctx, "sleep 60", computemw.ExecOptions{})
				done <- err
			}()
			select {
			case <-confined:
			case err := <-done:
				t.Fatalf("the execution ended before it was confined: %v", err)
			}
			dirs := local.SandboxCgroupDirs(sb)
			// The sandbox's first process is in every hierarchy's group at
			// once, born or moved; its parent, bwrap's monitor, only when
			// born there.
			for _, dir := range dirs {
				var child, mon bool
				for _, pid := range cgroupProcs(t, []string{dir}) {
					pr, ok := readProc(pid)
					if !ok {
						continue
					}
					if pr.ppid == os.Getpid() && pr.comm == "bwrap" {
						mon = true
					} else if parent, ok := readProc(pr.ppid); ok && parent.ppid == os.Getpid() {
						child = true
					}
				}
				if !child {
					t.Errorf("%s: the sandbox's first process is not in the group", dir)
				}
				if mon != tc.monitorWant {
					t.Errorf("%s: bwrap's monitor in the group: %v, want %v", dir, mon, tc.monitorWant)
				}
			}
			// Every thread of the server is back in the groups the
			// process is in.
			home, err := os.ReadFile("/proc/self/cgroup")
			if err != nil {
				t.Fatal(err)
			}
			tasks, _ := filepath.Glob("/proc/self/task/*/cgroup")
			for _, f := range tasks {
				b, err := os.ReadFile(f)
				if err == nil && string(b) != string(home) {
					t.Errorf("thread %s is in other groups than the server:\n%s\nwant\n%s", f, b, home)
				}
			}
			for _, dir := range dirs {
				b, _ := os.ReadFile(filepath.Join(dir, "tasks"))
				for f := range strings.FieldsSeq(string(b)) {
					if _, err := os.Stat("/proc/self/task/" + f); err == nil {
						t.Errorf("%s lists thread %s of the server", dir, f)
					}
				}
			}
			cancel()
			if err := <-done; err == nil {
				t.Error("the cancelled execution reported success")
			}
		})
	}
}
