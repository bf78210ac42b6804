package sqlitestore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/computemw/kit/computemw/quota"
	"github.com/computemw/kit/stores/sqlitestore"
)

// Quota usage that survives a restart, in one SQLite file.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "usage")
	defer os.RemoveAll(dir)
	store, err := sqlitestore.Open(filepath.Join(dir, "usage.db"))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	q, _ := quota.New(quota.Config{Store: store}) // list q in computemw.Config.Policies

	period := quota.Monthly(time.Now())
	u, _ := q.Store().Add(context.Background(), "alice", period, quota.Usage{Executions: 1, CPUSeconds: 0.5})
	fmt.Println(u.Executions, u.CPUSeconds)
	// Output: 1 0.5
}
