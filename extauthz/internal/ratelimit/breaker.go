package ratelimit

import (
	"sync"
	"time"
)

// breaker is a consecutive-failure circuit breaker. Closed, every call goes
// to Redis. After threshold consecutive failures it opens for cooldown, and
// calls take the fallback without touching Redis. Once cooldown has passed,
// one call at a time is let through as a probe (half-open): its success
// closes the breaker, its failure opens it again for cooldown.
type breaker struct {
	threshold int
	cooldown  time.Duration
	now       func() time.Time

	mu sync.Mutex
	// failures, openUntil and probing are guarded by mu.
	failures  int       // consecutive failures
	openUntil time.Time // meaningful when failures >= threshold
	probing   bool      // a half-open probe is in flight
}

// transition reports a change of the breaker's state by a recorded outcome.
type transition int

const (
	unchanged transition = iota
	opened
	closed
)

func newBreaker(threshold int, cooldown time.Duration, now func() time.Time) *breaker {
	return &breaker{threshold: threshold, cooldown: cooldown, now: now}
}

// allow reports whether a call may go to Redis now. A true answer must be
// followed by record or abandon.
func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < b.threshold {
		return true
	}
	if b.probing || b.now().Before(b.openUntil) {
		return false
	}
	b.probing = true
	return true
}

// record takes the outcome of an allowed call.
func (b *breaker) record(ok bool) transition {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	wasOpen := b.failures >= b.threshold
	if ok {
		b.failures = 0
		if wasOpen {
			return closed
		}
		return unchanged
	}
	b.failures++
	if b.failures < b.threshold {
		return unchanged
	}
	b.openUntil = b.now().Add(b.cooldown)
	if wasOpen {
		return unchanged
	}
	return opened
}

// abandon takes back an allowed call whose outcome says nothing about
// Redis (the caller's context ended first).
func (b *breaker) abandon() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
}
