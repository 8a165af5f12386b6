package cuda

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"
)

// Allocator is the memory a Pool draws from: the driver's cuMemAlloc/cuMemFree in the GPU
// build, a fake in tests.
type Allocator interface {
	Alloc(bytes int64) (uintptr, error)
	Free(p uintptr) error
}

// Block is device memory from a Pool: Size bytes (its size class) at Ptr.
type Block struct {
	Ptr  uintptr
	Size int64
}

// PoolStats counts a Pool's memory and traffic.
type PoolStats struct {
	// Held is what the pool holds from the allocator (in use plus cached); InUse is what
	// callers hold.
	Held, InUse int64
	// Allocs counts allocator calls; Reuses counts Gets served from the cache.
	Allocs, Reuses int64
}

// minClass is the smallest block (the alignment of every buffer).
const minClass = align

// classSize rounds n up to a size class: four classes per power of two (1, 1.25, 1.5,
// 1.75 × 2^k), so a block wastes at most a fifth of itself.
func classSize(n int64) int64 {
	if n <= minClass {
		return minClass
	}
	k := 63 - bits.LeadingZeros64(uint64(n-1)) // 2^k < n ≤ 2^(k+1)
	step := int64(1) << (k - 2)
	return (n + step - 1) / step * step
}

// Pool is a caching device-memory allocator: Get takes a cached block of the right size
// class or allocates one, Put returns a block to the cache, so a warmed-up server does
// not call the driver's allocator. It is safe for concurrent use.
type Pool struct {
	alloc Allocator
	limit int64

	mu    sync.Mutex
	free  map[int64][]uintptr // cached blocks by size class; guarded by mu
	stats PoolStats           // guarded by mu
}

// NewPool returns a pool over a that holds at most limit bytes (0: no limit).
func NewPool(a Allocator, limit int64) *Pool {
	return &Pool{alloc: a, limit: limit, free: map[int64][]uintptr{}}
}

// Get returns a block of at least n bytes. When the limit or the device's memory is
// reached it first frees the cached blocks, then fails with ErrPoolLimit or the
// allocator's error.
func (p *Pool) Get(n int64) (Block, error) {
	if n < 0 {
		return Block{}, fmt.Errorf("%w: negative size %d", errLayout, n)
	}
	size := classSize(n)
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.free[size]; len(c) > 0 {
		ptr := c[len(c)-1]
		p.free[size] = c[:len(c)-1]
		p.stats.InUse += size
		p.stats.Reuses++
		return Block{Ptr: ptr, Size: size}, nil
	}
	if p.limit > 0 && p.stats.Held+size > p.limit {
		if err := p.trimLocked(); err != nil {
			return Block{}, err
		}
		if p.stats.Held+size > p.limit {
			return Block{}, fmt.Errorf("%w: %d bytes held, %d more asked, limit %d", ErrPoolLimit, p.stats.Held, size, p.limit)
		}
	}
	ptr, err := p.alloc.Alloc(size)
	if err != nil { // out of device memory: drop the cache and try once more
		if terr := p.trimLocked(); terr != nil {
			return Block{}, errors.Join(err, terr)
		}
		if ptr, err = p.alloc.Alloc(size); err != nil {
			return Block{}, err
		}
	}
	p.stats.Held += size
	p.stats.InUse += size
	p.stats.Allocs++
	return Block{Ptr: ptr, Size: size}, nil
}

// Put returns a block from Get to the cache. Putting a zero Block does nothing.
func (p *Pool) Put(b Block) {
	if b.Ptr == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.free[b.Size] = append(p.free[b.Size], b.Ptr)
	p.stats.InUse -= b.Size
}

// Trim frees every cached block.
func (p *Pool) Trim() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.trimLocked()
}

// trimLocked frees the cache. p.mu must be held.
func (p *Pool) trimLocked() error {
	var errs []error
	for size, c := range p.free {
		for _, ptr := range c {
			if err := p.alloc.Free(ptr); err != nil {
				errs = append(errs, err)
				continue
			}
			p.stats.Held -= size
		}
		delete(p.free, size)
	}
	return errors.Join(errs...)
}

// Stats returns the pool's counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}
