//go:build linux

package local_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/providers/local"
)

// requestPools are the warm pools a request's sandbox is benchmarked on.
var requestPools = []struct {
	name string
	pool local.PoolConfig
}{
	{"recycled", local.PoolConfig{}},
	{"held", local.PoolConfig{Recycle: local.RecycleConfig{Off: true}}},
	{"cold", local.PoolConfig{Size: -1}},
}

// BenchmarkRequestSandbox is a request's whole use of a sandbox: create,
// run `true`, destroy — recycled, with the held shell of a pool that does
// not recycle, and without a pool; one after another, then eight at a
// time.
func BenchmarkRequestSandbox(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		for _, c := range requestPools {
			b.Run(fmt.Sprintf("%s/parallel=%t", c.name, parallel), func(b *testing.B) {
				p, err := local.New(local.Config{BaseDir: testBaseDir(b), CgroupParent: cgroupTestRoot + "/" + randHex(), WarmPool: c.pool})
				if err != nil {
					b.Skip("the local provider cannot start here: " + err.Error())
				}
				b.Cleanup(func() { _ = p.Close(context.Background()) })
				if parallel {
					b.SetParallelism(4)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							useSandbox(b, p)
						}
					})
				} else {
					for b.Loop() {
						useSandbox(b, p)
					}
				}
				b.ReportMetric(float64(p.PoolStats().Hits)/float64(b.N), "hits/op")
			})
		}
	}
}

// useSandbox is one request's use of a sandbox of p.
func useSandbox(b *testing.B, p *local.Provider) {
	ctx := b.Context()
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
