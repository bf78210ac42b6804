package main

import (
	"github.com/ulule/limiter/v3"

	"github.com/computemw/kit/computemw/quota"
)

// counters are where rate counts and usage are kept.
func counters() (limiter.Store, quota.Store) {
	return nil, nil
}
