package tensor

import (
	"fmt"
	"slices"
)

// arenaAlign is the allocation granularity in elements (64 bytes: one cache line).
const arenaAlign = 16

// Arena hands out float32 tensors carved from one slab. Alloc is a bump allocation; Reset
// releases everything at once, so a model that allocates the same sequence every inference
// allocates from the Go heap only while warming up (the slab grows by replacement when a
// request does not fit and Grow is set). At tells the memory plan's fixed offsets apart from
// the bump pointer. An Arena is not safe for concurrent use.
type Arena struct {
	slab []float32
	off  int
	// Grow lets Alloc replace a too-small slab (earlier tensors keep the old one) instead of
	// returning ErrArenaFull. The next Reset then starts on the larger slab.
	Grow bool
	high int
}

// NewArena returns an arena with a slab of n float32 elements.
func NewArena(n int) *Arena { return &Arena{slab: make([]float32, n)} }

// Alloc returns a tensor of the given shape whose data (not zeroed) comes from the slab.
func (a *Arena) Alloc(shape ...int) (*Tensor, error) {
	n := Numel(shape)
	if n < 0 {
		return nil, fmt.Errorf("%w: %v", ErrShape, shape)
	}
	padded := (n + arenaAlign - 1) / arenaAlign * arenaAlign
	if a.off+padded > len(a.slab) {
		if !a.Grow {
			return nil, fmt.Errorf("%w: need %d elements, %d left", ErrArenaFull, padded, len(a.slab)-a.off)
		}
		a.slab = make([]float32, max(2*len(a.slab), a.off+padded))
	}
	data := a.slab[a.off : a.off+n : a.off+n]
	a.off += padded
	a.high = max(a.high, a.off)
	return &Tensor{Shape: slices.Clone(shape), Data: data}, nil
}

// At returns a tensor of the given shape at a fixed element offset in the slab, as a memory
// plan assigns them. It does not move the bump pointer.
func (a *Arena) At(offset int, shape ...int) (*Tensor, error) {
	n := Numel(shape)
	if n < 0 || offset < 0 || offset > len(a.slab)-n {
		return nil, fmt.Errorf("%w: %v at %d in a slab of %d", ErrArenaFull, shape, offset, len(a.slab))
	}
	return &Tensor{Shape: slices.Clone(shape), Data: a.slab[offset : offset+n : offset+n]}, nil
}

// Reset releases every tensor handed out by Alloc; their data will be reused.
func (a *Arena) Reset() { a.off = 0 }

// HighWater returns the largest number of slab elements in use since the arena was made.
func (a *Arena) HighWater() int { return a.high }

// Cap returns the slab size in elements.
func (a *Arena) Cap() int { return len(a.slab) }
