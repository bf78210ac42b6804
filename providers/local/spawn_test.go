//go:build linux

package local_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// Protection: every wait of a sandbox's start-up honours the context
// (spawn.go, initstart.go). A request whose client leaves while its
// sandbox is starting returns at once with the context's error, and leaves
// no process, workspace or cgroup behind (the leak check after the test
// looks again).
func TestSpawnHonoursContext(t *testing.T) {
	for _, stage := range []string{"started", "confined"} {
		t.Run(stage, func(t *testing.T) {
			p := newTestProvider(t, local.Config{})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			local.SetSpawnHook(p, func(s string) {
				if s == stage {
					cancel()
				}
			})
			done := make(chan error, 1)
			go func() {
				sb, err := p.Create(ctx, computemw.CreateOptions{})
				if err == nil {
					_ = sb.Destroy(t.Context())
				}
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("Create cancelled at %q: %v; want context.Canceled", stage, err)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("Create cancelled at %q did not return", stage)
			}
			local.SetSpawnHook(p, nil)
			if n := local.LiveSandboxes(p); n != 0 {
				t.Errorf("%d sandboxes left after a cancelled create", n)
			}
			if kids := childProcs(); len(kids) > 0 {
				t.Errorf("child processes left: %v", kids)
			}
			if dirs := instanceChildren(t, p); len(dirs) > 0 {
				t.Errorf("workspaces or cgroups left: %v", dirs)
			}
			// The provider is not held: the next sandbox runs.
			sb := newSandbox(t, p, computemw.CreateOptions{})
			if res := run(t, sb, "echo next", computemw.ExecOptions{}); res.Stdout != "next\n" {
				t.Errorf("after the cancelled start: %+v", res)
			}
		})
	}
}

// instanceChildren lists the sandbox directories and cgroups under the
// provider's instance.
func instanceChildren(t *testing.T, p *local.Provider) []string {
	t.Helper()
	var out []string
	dirs := []string{local.InstanceDir(p)}
	for _, d := range local.CgroupParentDirs(p) {
		dirs = append(dirs, filepath.Join(d, local.InstanceName(p)))
	}
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), "sb-") {
				out = append(out, filepath.Join(d, e.Name()))
			}
		}
	}
	return out
}
