//go:build linux

package local_test

import (
	"context"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// BenchmarkRequestSandbox is a request's whole use of a sandbox, one
// after another: create, run `true`, destroy — recycled, with the held
// shell of a pool that does not recycle, and without a pool.
func BenchmarkRequestSandbox(b *testing.B) {
	for _, c := range []struct {
		name string
		pool local.PoolConfig
	}{
		{"recycled", local.PoolConfig{}},
		{"held", local.PoolConfig{Recycle: local.RecycleConfig{Off: true}}},
		{"cold", local.PoolConfig{Size: -1}},
	} {
		b.Run(c.name, func(b *testing.B) {
			p, err := local.New(local.Config{BaseDir: testBaseDir(b), CgroupParent: cgroupTestRoot + "/" + randHex(), WarmPool: c.pool})
			if err != nil {
				b.Skip("the local provider cannot start here: " + err.Error())
			}
			b.Cleanup(func() { _ = p.Close(context.Background()) })
			ctx := b.Context()
			for b.Loop() {
				sb, err := p.Create(ctx, computemw.CreateOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if r, err := sb.Exec(ctx, "true", computemw.ExecOptions{}); err != nil || r.ExitCode != 0 {
					b.Fatalf("%v %+v", err, r)
				}
				if err := sb.Destroy(ctx); err != nil {
					b.Fatal(err)
				}
			}
			s := p.PoolStats()
			b.ReportMetric(float64(s.Hits)/float64(b.N), "hits/op")
		})
	}
}

// BenchmarkRequestSandboxParallel is BenchmarkRequestSandbox with eight
// requests at a time.
func BenchmarkRequestSandboxParallel(b *testing.B) {
	for _, c := range []struct {
		name string
		pool local.PoolConfig
	}{
		{"recycled", local.PoolConfig{}},
		{"held", local.PoolConfig{Recycle: local.RecycleConfig{Off: true}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			p, err := local.New(local.Config{BaseDir: testBaseDir(b), CgroupParent: cgroupTestRoot + "/" + randHex(), WarmPool: c.pool})
			if err != nil {
				b.Skip("the local provider cannot start here: " + err.Error())
			}
			b.Cleanup(func() { _ = p.Close(context.Background()) })
			ctx := b.Context()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					sb, err := p.Create(ctx, computemw.CreateOptions{})
					if err != nil {
						b.Error(err)
						return
					}
					if r, err := sb.Exec(ctx, "true", computemw.ExecOptions{}); err != nil || r.ExitCode != 0 {
						b.Errorf("%v %+v", err, r)
					}
					if err := sb.Destroy(ctx); err != nil {
						b.Error(err)
					}
				}
			})
			s := p.PoolStats()
			b.ReportMetric(float64(s.Hits)/float64(b.N), "hits/op")
		})
	}
}
