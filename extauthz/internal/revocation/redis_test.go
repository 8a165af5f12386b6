package revocation

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/torchgate/torchgate/extauthz/internal/redistest"
	"github.com/torchgate/torchgate/extauthz/internal/token"
)

// replica is one Store with its own Redis client, running until the test ends or stop.
type replica struct {
	s    *Store
	stop context.CancelFunc
}

func newReplica(t *testing.T, addr string) *replica {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	s := New(Options{Redis: rdb})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &replica{s: s, stop: cancel}
}

// within waits up to d for cond.
func within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func TestRevocationAcrossReplicas(t *testing.T) {
	addr := redistest.Start(t).Addr()
	a, b := newReplica(t, addr), newReplica(t, addr)
	ctx := context.Background()
	tok := &token.Claims{JTI: "leaked", ClientID: "c1", IssuedAt: time.Now().Add(-time.Minute)}
	other := &token.Claims{JTI: "x", ClientID: "c2", IssuedAt: time.Now().Add(-time.Minute)}
	// B must be subscribed before A publishes; the resync covers the rest, but waiting for the
	// subscription keeps this test about pub/sub.
	if !within(time.Second, func() bool { return subscribers(t, addr) == 2 }) {
		t.Fatal("replicas did not subscribe")
	}
	if err := a.s.RevokeJTI(ctx, "leaked", "c1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := a.s.RevokeClient(ctx, "c2", time.Time{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if !within(time.Second, func() bool {
		_, r1 := b.s.Revoked(tok)
		_, r2 := b.s.Revoked(other)
		return r1 && r2
	}) {
		t.Fatal("replica B did not see the revocations within 1s")
	}
	t.Logf("seen by B after %v", time.Since(start))

	// A replica started later (or reconnected) re-syncs from the keys.
	c := newReplica(t, addr)
	if !within(time.Second, func() bool {
		_, r1 := c.s.Revoked(tok)
		_, r2 := c.s.Revoked(other)
		return r1 && r2
	}) {
		t.Fatal("a new replica did not re-sync from the keys")
	}
	// The keys expire with the token.
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	if ttl := rdb.TTL(ctx, KeyPrefixJTI+"leaked").Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("jti key TTL = %v, want the token's remaining life", ttl)
	}
}

func TestResyncAfterReconnect(t *testing.T) {
	addr := redistest.Start(t).Addr()
	b := newReplica(t, addr)
	if !within(time.Second, func() bool { return subscribers(t, addr) == 1 }) {
		t.Fatal("replica did not subscribe")
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx := context.Background()
	// Cut B's subscription, and while it reconnects write a revocation key without a message.
	if err := rdb.ClientKillByFilter(ctx, "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Unix()
	rdb.Set(ctx, KeyPrefixJTI+"missed", strconv.FormatInt(exp, 10)+":c1", time.Hour)
	if !within(3*time.Second, func() bool { _, r := b.s.Revoked(&token.Claims{JTI: "missed"}); return r }) {
		t.Fatal("replica did not re-sync after reconnecting")
	}
}

func subscribers(t *testing.T, addr string) int64 {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	m, err := c.PubSubNumSub(context.Background(), Channel).Result()
	if err != nil {
		t.Fatal(err)
	}
	return m[Channel]
}
