//go:build linux

package local_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// Protection: every wait of the start-up honours the context (spawn.go).
// A request whose client leaves while its sandbox is starting returns at
// once with the context's error, and leaves no process behind: the
// sandbox's cgroup is empty and the test binary has no child (the leak
// check after the test looks again).
func TestSpawnHonoursContext(t *testing.T) {
	for _, stage := range []string{"started", "confined"} {
		t.Run(stage, func(t *testing.T) {
			p := newTestProvider(t, local.Config{})
			sb := newSandbox(t, p, computemw.CreateOptions{})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			local.SetSpawnHook(p, func(s string) {
				if s == stage {
					cancel()
				}
			})
			res, err := bounded(t, 20*time.Second, func() (*computemw.Result, error) {
				return sb.Exec(ctx, "echo ran > ran.txt; sleep 1000", computemw.ExecOptions{Timeout: 15 * time.Second})
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Exec cancelled at %q: %+v, %v; want context.Canceled", stage, res, err)
			}
			local.SetSpawnHook(p, nil)
			if pids := cgroupProcs(t, local.SandboxCgroupDirs(sb)); len(pids) > 0 {
				t.Errorf("processes left in the sandbox's cgroup: %v", pids)
			}
			if kids := childProcs(); len(kids) > 0 {
				t.Errorf("child processes left: %v", kids)
			}
			if _, err := sb.Stat(t.Context(), "ran.txt"); !isCode(err, computemw.CodeNotFound) {
				t.Errorf("the program ran although its start was cancelled (%v)", err)
			}
			// The sandbox is not held: the next execution runs.
			if res := run(t, sb, "echo next", computemw.ExecOptions{}); res.Stdout != "next\n" {
				t.Errorf("after the cancelled start: %+v", res)
			}
		})
	}
}
