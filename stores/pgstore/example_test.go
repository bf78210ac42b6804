package pgstore_test

import (
	"context"
	"log"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/quota"
	"github.com/computemw/kit/stores/pgstore"
)

// Quota usage in PostgreSQL, shared by every instance and kept across
// restarts; New creates its table if needed.
func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:5432/test")
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := pgstore.New(ctx, pool, pgstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	q, _ := quota.New(quota.Config{Store: store})
	_ = computemw.Config{Policies: []computemw.Policy{q}}
}
