//go:build linux

package local_test

import (
	"context"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// BenchmarkContextFirstExecution is the time from nothing to the result
// of a first execution in a new Python context of a running sandbox
// (the interpreter starts, then runs `x = 41`), context deleted after.
func BenchmarkContextFirstExecution(b *testing.B) {
	benchContext(b, "python", true)
}

// BenchmarkContextNextExecution is the time of each following execution
// in a Python context (`x += 1; x`: its value comes back as a result).
func BenchmarkContextNextExecution(b *testing.B) {
	benchContext(b, "python", false)
}

// BenchmarkContextFirstExecutionNode and BenchmarkContextNextExecutionNode
// are the same in a JavaScript (node) context.
func BenchmarkContextFirstExecutionNode(b *testing.B) { benchContext(b, "node", true) }
func BenchmarkContextNextExecutionNode(b *testing.B)  { benchContext(b, "node", false) }

func benchContext(b *testing.B, language string, first bool) {
	p := benchProvider(b)
	if !hasLanguage(p, language) {
		b.Skip(language + " is not installed")
	}
	sb, err := p.Create(b.Context(), computemw.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sb.Destroy(context.Background()) })
	cr := sb.(computemw.ContextRunner)
	code := map[string][2]string{"python": {"x = 41", "x += 1; x"}, "node": {"var x = 41", "x += 1; x"}}[language]
	run := func(id, code string) {
		res, err := cr.RunInContext(b.Context(), id, code, computemw.ExecOptions{})
		if err != nil || res.Error != nil {
			b.Fatalf("%q: %v %+v", code, err, res)
		}
	}
	if first {
		for b.Loop() {
			c, err := cr.CreateContext(b.Context(), computemw.ContextOptions{Language: language})
			if err != nil {
				b.Fatal(err)
			}
			run(c.ID, code[0])
			b.StopTimer()
			_ = cr.DeleteContext(b.Context(), c.ID)
			b.StartTimer()
		}
		return
	}
	c, err := cr.CreateContext(b.Context(), computemw.ContextOptions{Language: language})
	if err != nil {
		b.Fatal(err)
	}
	run(c.ID, code[0])
	for b.Loop() {
		run(c.ID, code[1])
	}
}

// benchProvider starts a provider for a benchmark, closed at its end.
func benchProvider(b *testing.B) *local.Provider {
	b.Helper()
	p, err := local.New(local.Config{BaseDir: testBaseDir(b), CgroupParent: cgroupTestRoot + "/" + randHex(), WarmPool: local.PoolConfig{Size: -1}})
	if err != nil {
		b.Skip("the local provider cannot start here: " + err.Error())
	}
	b.Cleanup(func() {
		_ = p.Close(context.Background())
		for _, dir := range local.CgroupParentDirs(p) {
			removeCgroupTree(dir)
		}
	})
	return p
}
