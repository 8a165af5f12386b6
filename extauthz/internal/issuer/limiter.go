package issuer

import (
	"sync"
	"time"
)

// failureLimiter limits failed client authentications per key (a client id or a source
// address) with a token bucket: burst failures at once, then one per refill interval. It is
// safe for concurrent use. Memory is bounded by maxKeys: when full, idle (refilled) buckets are
// dropped, and if none is idle the table is reset, failing open rather than growing.
type failureLimiter struct {
	burst   float64
	refill  time.Duration
	maxKeys int
	now     func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket // guarded by mu
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newFailureLimiter(burst int, refill time.Duration, maxKeys int, now func() time.Time) *failureLimiter {
	return &failureLimiter{burst: float64(burst), refill: refill, maxKeys: maxKeys, now: now,
		buckets: make(map[string]*bucket)}
}

// level refills b to now and returns its tokens. l.mu must be held.
func (l *failureLimiter) levelLocked(b *bucket, now time.Time) float64 {
	b.tokens = min(l.burst, b.tokens+float64(now.Sub(b.at))/float64(l.refill))
	b.at = now
	return b.tokens
}

// retryAfter returns how long key must wait, or 0 when it may try.
func (l *failureLimiter) retryAfter(key string) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return 0
	}
	if t := l.levelLocked(b, now); t < 1 {
		return time.Duration((1 - t) * float64(l.refill))
	}
	return 0
}

// fail records one failure for key.
func (l *failureLimiter) fail(key string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.maxKeys {
			l.evictLocked(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	l.levelLocked(b, now)
	b.tokens = max(0, b.tokens-1)
}

// evictLocked drops refilled buckets, or everything when none is. l.mu must be held.
func (l *failureLimiter) evictLocked(now time.Time) {
	for k, b := range l.buckets {
		if l.levelLocked(b, now) >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= l.maxKeys {
		clear(l.buckets)
	}
}
