package tokencache

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func key(s string) [32]byte { return sha256.Sum256([]byte(s)) }

func TestGet(t *testing.T) {
	tests := []struct {
		name    string
		expires time.Time
		at      time.Time
		wantHit bool
	}{
		{name: "live entry hits", expires: t0.Add(time.Minute), at: t0, wantHit: true},
		{name: "entry at its expiry misses", expires: t0.Add(time.Minute), at: t0.Add(time.Minute)},
		{name: "expired entry misses", expires: t0.Add(time.Minute), at: t0.Add(2 * time.Minute)},
		{name: "zero expiry never expires", at: t0.Add(1000 * time.Hour), wantHit: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New[string](10, 0)
			c.Put(key("a"), "A", tc.expires)
			v, ok := c.Get(key("a"), tc.at)
			if ok != tc.wantHit {
				t.Fatalf("hit = %v, want %v", ok, tc.wantHit)
			}
			if ok && v != "A" {
				t.Fatalf("value = %q, want A", v)
			}
			if !ok && c.Len() != 0 {
				t.Fatalf("expired entry kept: Len = %d", c.Len())
			}
		})
	}
}

func TestMissingKey(t *testing.T) {
	c := New[int](10, 0)
	c.Put(key("a"), 1, time.Time{})
	if _, ok := c.Get(key("b"), t0); ok {
		t.Fatal("hit for a key never stored")
	}
	hits, misses := c.Stats()
	if hits != 0 || misses != 1 {
		t.Fatalf("stats = %d hits %d misses, want 0 1", hits, misses)
	}
}

func TestPutReplaces(t *testing.T) {
	c := New[int](10, 0)
	c.Put(key("a"), 1, t0.Add(time.Second))
	c.Put(key("a"), 2, t0.Add(time.Hour))
	if v, ok := c.Get(key("a"), t0.Add(time.Minute)); !ok || v != 2 {
		t.Fatalf("Get = %d, %v; want 2, true", v, ok)
	}
	if c.Len() != 1 {
		t.Fatalf("Len = %d, want 1", c.Len())
	}
}

func TestLRUEviction(t *testing.T) {
	c := New[int](3, 0) // one shard of three
	c.Put(key("a"), 1, time.Time{})
	c.Put(key("b"), 2, time.Time{})
	c.Put(key("c"), 3, time.Time{})
	c.Get(key("a"), t0) // a is now the most recently used; b the least
	c.Put(key("d"), 4, time.Time{})
	if _, ok := c.Get(key("b"), t0); ok {
		t.Fatal("least recently used entry b survived")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := c.Get(key(k), t0); !ok {
			t.Fatalf("entry %s evicted", k)
		}
	}
	if c.Len() != 3 {
		t.Fatalf("Len = %d, want 3", c.Len())
	}
}

func TestCapacityBound(t *testing.T) {
	const capacity = 1000
	c := New[int](capacity, 0)
	for i := range 5 * capacity {
		c.Put(key(fmt.Sprint(i)), i, time.Time{})
	}
	// Shards round their capacity up, so allow one extra entry per shard.
	if n := c.Len(); n > capacity+maxShards {
		t.Fatalf("Len = %d, want at most %d", n, capacity+maxShards)
	}
}

func TestEvictIf(t *testing.T) {
	c := New[int](1000, 0)
	for i := range 100 {
		c.Put(key(fmt.Sprint(i)), i, time.Time{})
	}
	n := c.EvictIf(func(v int) bool { return v%2 == 0 })
	if n != 50 {
		t.Fatalf("EvictIf removed %d, want 50", n)
	}
	for i := range 100 {
		_, ok := c.Get(key(fmt.Sprint(i)), t0)
		if ok != (i%2 == 1) {
			t.Fatalf("entry %d present = %v", i, ok)
		}
	}
}

func TestExpiryFor(t *testing.T) {
	tests := []struct {
		name       string
		maxTTL     time.Duration
		validUntil time.Time
		want       time.Time
	}{
		{name: "short-lived value keeps its expiry", maxTTL: time.Minute, validUntil: t0.Add(time.Second), want: t0.Add(time.Second)},
		{name: "long-lived value capped at max ttl", maxTTL: time.Minute, validUntil: t0.Add(time.Hour), want: t0.Add(time.Minute)},
		{name: "no max ttl keeps the expiry", validUntil: t0.Add(time.Hour), want: t0.Add(time.Hour)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New[int](1, tc.maxTTL)
			if got := c.ExpiryFor(t0, tc.validUntil); !got.Equal(tc.want) {
				t.Fatalf("ExpiryFor = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	c := New[int](256, 0)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := key(fmt.Sprint((g*7 + i) % 500))
				c.Put(k, i, t0.Add(time.Minute))
				c.Get(k, t0)
				if i%500 == 0 {
					c.EvictIf(func(v int) bool { return v%3 == 0 })
				}
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n > 256+maxShards {
		t.Fatalf("Len = %d after concurrent use", n)
	}
}

func BenchmarkGet(b *testing.B) {
	c := New[*int](10000, 0)
	keys := make([][32]byte, 1000)
	for i := range keys {
		keys[i] = key(fmt.Sprint(i))
		v := i
		c.Put(keys[i], &v, t0.Add(time.Hour))
	}
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, ok := c.Get(keys[i%len(keys)], t0); !ok {
				b.Fatal("miss")
			}
		}
	})
	b.Run("hit_parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				c.Get(keys[i%len(keys)], t0)
				i++
			}
		})
	})
}
