package tokencache

import (
	"sync"
	"time"
)

// maxShards bounds the number of shards; a small cache uses fewer so that every shard keeps a
// useful capacity.
const maxShards = 16

// minShardCapacity is the smallest per-shard capacity worth sharding for.
const minShardCapacity = 64

// Cache is a bounded LRU of values keyed by a 32-byte hash, with per-entry expiry. The zero
// value is not usable; create one with New. All methods may be called concurrently.
type Cache[V any] struct {
	shards []shard[V]
	maxTTL time.Duration
}

// New returns a cache that holds at most capacity entries (at least one) and keeps no entry
// longer than maxTTL after it was stored. A maxTTL of zero or less means no cap beyond the
// expiry given to Put.
func New[V any](capacity int, maxTTL time.Duration) *Cache[V] {
	capacity = max(capacity, 1)
	n := min(maxShards, max(1, capacity/minShardCapacity))
	per := (capacity + n - 1) / n
	c := &Cache[V]{shards: make([]shard[V], n), maxTTL: maxTTL}
	for i := range c.shards {
		c.shards[i].init(per)
	}
	return c
}

// MaxTTL reports the longest time an entry may live, as given to New (zero or less: no cap).
func (c *Cache[V]) MaxTTL() time.Duration { return c.maxTTL }

// ExpiryFor returns the expiry to store for a value that stays valid until validUntil when it
// is stored at now: validUntil capped at now+MaxTTL.
func (c *Cache[V]) ExpiryFor(now, validUntil time.Time) time.Time {
	if c.maxTTL > 0 {
		if capAt := now.Add(c.maxTTL); capAt.Before(validUntil) {
			return capAt
		}
	}
	return validUntil
}

// Get returns the value stored under key when it has not expired at now. An expired entry is a
// miss and is removed. A hit marks the entry as most recently used.
func (c *Cache[V]) Get(key [32]byte, now time.Time) (V, bool) {
	return c.shardFor(key).get(key, now)
}

// Put stores v under key until expires, replacing any earlier value. Callers cap expires with
// ExpiryFor. An entry whose expiry is the zero time never expires by time.
func (c *Cache[V]) Put(key [32]byte, v V, expires time.Time) {
	c.shardFor(key).put(key, v, expires)
}

// EvictIf removes every entry whose value satisfies pred and returns how many it removed.
// pred runs with a shard lock held: it must be fast and must not call the cache.
func (c *Cache[V]) EvictIf(pred func(V) bool) int {
	n := 0
	for i := range c.shards {
		n += c.shards[i].evictIf(pred)
	}
	return n
}

// Len reports the number of entries held, expired ones not yet removed included.
func (c *Cache[V]) Len() int {
	n := 0
	for i := range c.shards {
		n += c.shards[i].len()
	}
	return n
}

// Stats reports how many Get calls hit and missed since the cache was created; the lead exports
// them as torchgate_authz_token_cache_requests_total{result}.
func (c *Cache[V]) Stats() (hits, misses uint64) {
	for i := range c.shards {
		h, m := c.shards[i].stats()
		hits += h
		misses += m
	}
	return hits, misses
}

// shardFor picks a shard from the key's first bytes: the key is a cryptographic hash, so they
// are uniformly distributed.
func (c *Cache[V]) shardFor(key [32]byte) *shard[V] {
	h := uint(key[0]) | uint(key[1])<<8
	return &c.shards[h%uint(len(c.shards))]
}

// shard is one independently locked LRU.
type shard[V any] struct {
	mu       sync.Mutex
	capacity int                    // fixed after init
	entries  map[[32]byte]*entry[V] // guarded by mu
	lru      list[V]                // guarded by mu; front is most recently used
	hits     uint64                 // guarded by mu
	misses   uint64                 // guarded by mu
	_        [64]byte               // keeps neighbouring shards' locks off one cache line
}

func (s *shard[V]) init(capacity int) {
	s.capacity = capacity
	s.entries = make(map[[32]byte]*entry[V], capacity)
	s.lru.init()
}

func (s *shard[V]) get(key [32]byte, now time.Time) (V, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if ok && !e.expires.IsZero() && !now.Before(e.expires) {
		s.removeLocked(e)
		ok = false
	}
	if !ok {
		s.misses++
		var zero V
		return zero, false
	}
	s.hits++
	s.lru.moveToFront(e)
	return e.value, true
}

func (s *shard[V]) put(key [32]byte, v V, expires time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[key]; ok {
		e.value, e.expires = v, expires
		s.lru.moveToFront(e)
		return
	}
	var e *entry[V]
	if len(s.entries) >= s.capacity {
		// Reuse the least recently used entry's node for the new one.
		e = s.lru.back()
		s.removeLocked(e)
	} else {
		e = new(entry[V])
	}
	e.key, e.value, e.expires = key, v, expires
	s.entries[key] = e
	s.lru.pushFront(e)
}

func (s *shard[V]) evictIf(pred func(V) bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for e := s.lru.front(); e != nil; {
		next := s.lru.next(e)
		if pred(e.value) {
			s.removeLocked(e)
			n++
		}
		e = next
	}
	return n
}

func (s *shard[V]) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

func (s *shard[V]) stats() (hits, misses uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits, s.misses
}

// removeLocked drops e from the map and the list and clears its value so the cache holds no
// reference to it. s.mu must be held.
func (s *shard[V]) removeLocked(e *entry[V]) {
	delete(s.entries, e.key)
	s.lru.remove(e)
	var zero V
	e.value = zero
}
