package redisstore_test

import (
	"context"
	"log"

	"github.com/redis/go-redis/v9"

	"github.com/computemw/kit/computemw"
	"github.com/computemw/kit/computemw/quota"
	"github.com/computemw/kit/computemw/ratelimit"
	"github.com/computemw/kit/stores/redisstore"
)

// Rate limits and quota usage shared by every instance through Redis.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	rates, err := redisstore.NewRateStore(context.Background(), rdb, "computemw:rate")
	if err != nil {
		log.Fatal(err)
	}
	limits, _ := ratelimit.New(ratelimit.Config{Store: rates})
	q, _ := quota.New(quota.Config{Store: redisstore.New(rdb, "computemw:usage")})
	_ = computemw.Config{Policies: []computemw.Policy{limits, q}}
}
