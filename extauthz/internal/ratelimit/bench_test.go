package ratelimit

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/torchgate/torchgate/extauthz/internal/redistest"
)

// benchTier allows everything the benchmarks offer, so every call takes the
// full path: check and consume all limits.
var benchTier = &Tier{Name: "pro", Rate: 1e6, Burst: 1 << 40, Quotas: []Quota{{Minute, 1 << 50}, {Day, 1 << 50}}}

// benchAllow measures Allow for 1000 clients, from one goroutine and from 16
// (the concurrency of the end-to-end target).
func benchAllow(b *testing.B, l Limiter) {
	b.Helper()
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = "client-" + strconv.Itoa(i)
	}
	allow := func(i int) error {
		res, err := l.Allow(context.Background(), Request{ClientID: ids[i%len(ids)], Tier: benchTier, Cost: 1})
		if err == nil && (!res.Allowed || res.Degraded) {
			b.Fatalf("benchmark request not allowed in full: %+v", res)
		}
		return err
	}
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if err := allow(i); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel16", func(b *testing.B) {
		var next atomic.Int64
		b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1)) * 97
			for pb.Next() {
				if err := allow(i); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

func BenchmarkLocalAllow(b *testing.B) {
	benchAllow(b, NewLocal(LocalOptions{}))
}

func BenchmarkRedisAllow(b *testing.B) {
	srv := redistest.Start(b)
	benchAllow(b, NewRedis(redisClient(b, srv, time.Second), RedisOptions{Timeout: time.Second}))
}
