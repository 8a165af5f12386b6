package issuer

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// replayKeyPrefix prefixes the Redis keys of used assertion jtis.
const replayKeyPrefix = "torchgate:assertion:jti:"

// replayCache remembers used assertion ids until their expiry (RFC 7523 §3 item 7).
type replayCache interface {
	// firstUse records key for ttl and reports whether it was not recorded before.
	firstUse(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// redisReplay shares the cache between replicas with SET NX.
type redisReplay struct{ rdb redis.UniversalClient }

func (r redisReplay) firstUse(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ok, err := r.rdb.SetNX(ctx, replayKeyPrefix+key, 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("issuer: replay cache: %w", err)
	}
	return ok, nil
}

// memoryReplay is the single-replica cache. Its size is bounded by the assertions accepted
// within the maximum assertion lifetime; expired ids are pruned as new ones arrive.
type memoryReplay struct {
	now func() time.Time

	mu        sync.Mutex
	seen      map[string]time.Time // key -> expiry; guarded by mu
	nextPrune time.Time            // guarded by mu
}

func newMemoryReplay(now func() time.Time) *memoryReplay {
	return &memoryReplay{now: now, seen: make(map[string]time.Time)}
}

func (m *memoryReplay) firstUse(_ context.Context, key string, ttl time.Duration) (bool, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.After(m.nextPrune) {
		for k, exp := range m.seen {
			if !now.Before(exp) {
				delete(m.seen, k)
			}
		}
		m.nextPrune = now.Add(time.Minute)
	}
	if exp, ok := m.seen[key]; ok && now.Before(exp) {
		return false, nil
	}
	m.seen[key] = now.Add(ttl)
	return true, nil
}
