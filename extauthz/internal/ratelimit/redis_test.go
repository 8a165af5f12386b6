package ratelimit

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
)

var proTier = &Tier{Name: "pro", Rate: 200, Burst: 400, Quotas: []Quota{{Day, 5_000_000}}}

// downClient returns a client of an address where nothing listens.
func downClient(t *testing.T) redis.UniversalClient {
	t.Helper()
	m := miniredis.RunT(t)
	addr := m.Addr()
	m.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedisDownAtStart(t *testing.T) {
	tests := []struct {
		name     string
		onError  string
		wantErr  error
		degraded bool
		metrics  string
	}{
		{
			name: "local fallback decides with divided limits", onError: "", degraded: true,
			metrics: `
# HELP torchgate_ratelimit_decisions_total Rate limit decisions by tier and result (allowed, rate_limited, quota_exceeded, error).
# TYPE torchgate_ratelimit_decisions_total counter
torchgate_ratelimit_decisions_total{result="allowed",tier="pro"} 200
torchgate_ratelimit_decisions_total{result="rate_limited",tier="pro"} 1
# HELP torchgate_ratelimit_degraded 1 while rate limit decisions bypass Redis (local fallback or deny), else 0.
# TYPE torchgate_ratelimit_degraded gauge
torchgate_ratelimit_degraded 1
# HELP torchgate_redis_errors_total Rate limit script calls to Redis that failed or timed out.
# TYPE torchgate_redis_errors_total counter
torchgate_redis_errors_total 3
`,
		},
		{
			name: "deny answers ErrUnavailable", onError: OnErrorDeny, wantErr: ErrUnavailable,
			metrics: `
# HELP torchgate_ratelimit_decisions_total Rate limit decisions by tier and result (allowed, rate_limited, quota_exceeded, error).
# TYPE torchgate_ratelimit_decisions_total counter
torchgate_ratelimit_decisions_total{result="error",tier="pro"} 201
# HELP torchgate_ratelimit_degraded 1 while rate limit decisions bypass Redis (local fallback or deny), else 0.
# TYPE torchgate_ratelimit_degraded gauge
torchgate_ratelimit_degraded 1
# HELP torchgate_redis_errors_total Rate limit script calls to Redis that failed or timed out.
# TYPE torchgate_redis_errors_total counter
torchgate_redis_errors_total 3
`,
		},
		{
			name: "an unknown on_error denies", onError: "dney", wantErr: ErrUnavailable,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			clock := newFakeClock(t0)
			l := NewRedis(downClient(t), RedisOptions{OnError: tc.onError, Replicas: 2, Now: clock.Now, Registerer: reg})
			// Replicas 2: the fallback allows a burst of 200 of the tier's 400.
			for i := range 201 {
				res, err := l.Allow(context.Background(), Request{ClientID: "c", Tier: proTier, Cost: 1})
				if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
					t.Fatalf("request %d: err = %v, want %v", i, err, tc.wantErr)
				}
				if res.Degraded != tc.degraded || (tc.degraded && res.Allowed != (i < 200)) {
					t.Fatalf("request %d: %+v", i, res)
				}
			}
			if tc.metrics == "" {
				return
			}
			if err := testutil.GatherAndCompare(reg, strings.NewReader(tc.metrics),
				"torchgate_ratelimit_decisions_total", "torchgate_ratelimit_degraded", "torchgate_redis_errors_total"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRedisBreakerSparesRedisAndRecovers(t *testing.T) {
	clock := newFakeClock(t0)
	m := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: m.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = client.Close() })
	var sent atomic.Int64
	client.AddHook(countHook{&sent})
	l := NewRedis(client, RedisOptions{Now: clock.Now, Timeout: time.Second})
	allow := func() Result {
		t.Helper()
		res, err := l.Allow(context.Background(), Request{ClientID: "c", Tier: proTier, Cost: 1})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := allow(); res.Degraded {
		t.Fatalf("redis up: %+v", res)
	}
	m.Close()
	for range DefaultBreakerFailures {
		if res := allow(); !res.Degraded {
			t.Fatalf("redis down: %+v", res)
		}
	}
	before := sent.Load()
	for range 100 {
		if res := allow(); !res.Degraded {
			t.Fatalf("breaker open: %+v", res)
		}
	}
	if n := sent.Load() - before; n != 0 {
		t.Fatalf("breaker open, yet %d commands sent", n)
	}
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	if res := allow(); !res.Degraded {
		t.Fatalf("before the cooldown ends: %+v", res)
	}
	clock.Advance(DefaultBreakerCooldown)
	if res := allow(); res.Degraded {
		t.Fatalf("probe after the cooldown: %+v", res)
	}
	if res := allow(); res.Degraded {
		t.Fatalf("after recovery: %+v", res)
	}
}

func TestRedisCanceledContextIsNotARedisFailure(t *testing.T) {
	m := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: m.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = client.Close() })
	l := NewRedis(client, RedisOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range DefaultBreakerFailures + 1 {
		if _, err := l.Allow(ctx, Request{ClientID: "c", Tier: proTier, Cost: 1}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	}
	res, err := l.Allow(context.Background(), Request{ClientID: "c", Tier: proTier, Cost: 1})
	if err != nil || res.Degraded || !res.Allowed {
		t.Fatalf("after cancellations: %+v, %v (breaker must stay closed)", res, err)
	}
}

func TestRedisTierChangeAppliesOnNextRequest(t *testing.T) {
	clock := newFakeClock(t0)
	_, client := newMiniredis(t, clock)
	l := NewRedis(client, RedisOptions{Timeout: 10 * time.Second})
	tier := &Tier{Name: "t", Rate: 1000, Burst: 1000, Quotas: []Quota{{Day, 5}}}
	for range 5 {
		if res, err := l.Allow(context.Background(), Request{ClientID: "c", Tier: tier, Cost: 1}); err != nil || !res.Allowed {
			t.Fatalf("%+v, %v", res, err)
		}
	}
	raised := &Tier{Name: "t", Rate: 1000, Burst: 1000, Quotas: []Quota{{Day, 6}}}
	for i, want := range []bool{true, false} {
		res, err := l.Allow(context.Background(), Request{ClientID: "c", Tier: raised, Cost: 1})
		if err != nil || res.Allowed != want {
			t.Fatalf("request %d under the raised quota: %+v, %v", i, res, err)
		}
	}
}
