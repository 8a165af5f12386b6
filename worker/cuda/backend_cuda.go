//go:build cuda

package cuda

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/torchgate/torchgate/worker/internal/engine"
	"github.com/torchgate/torchgate/worker/internal/graph"
)

// Backend runs graphs on one GPU for one model instance: its own stream and cuBLAS handle,
// a memory pool, the uploaded weights and pinned staging buffers.
type Backend struct {
	opts Options
	dev  *device
	blas *blasHandle
	pool *Pool

	mu      sync.Mutex           // guards consts (program cleanups run on other goroutines)
	consts  map[ConstKey]*upload // uploaded constants
	staging pinned               // used by Run only; the engine never runs two at once
	closed  bool
}

var _ engine.Backend = (*Backend)(nil)

// upload is a constant on the device, shared by the programs using it.
type upload struct {
	block Block
	refs  int
}

// Available reports whether a CUDA device can be used: the GPU build on a machine with a
// driver and at least one device.
func Available() bool {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	d, err := openDevice(0)
	if err != nil {
		return false
	}
	d.close()
	return true
}

// New opens GPU opts.Device for one model instance.
func New(opts Options) (*Backend, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	d, err := openDevice(opts.Device)
	if err != nil {
		return nil, err
	}
	blas, err := newBLAS(d.stream, opts.ExactFP32)
	if err != nil {
		d.close()
		return nil, err
	}
	return &Backend{opts: opts, dev: d, blas: blas, pool: NewPool(driverAlloc{}, opts.MemoryLimit), consts: map[ConstKey]*upload{}}, nil
}

// Close releases the device memory, the handle, the stream and the context reference.
// Programs must not run after Close.
func (b *Backend) Close() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	if b.dev.current() == nil {
		_ = b.dev.sync()
	}
	for _, u := range b.consts {
		b.pool.Put(u.block)
	}
	b.consts = nil
	_ = b.pool.Trim() // blocks still held by programs are the driver's to free with the context
	_ = b.staging.free()
	_ = b.blas.close()
	b.dev.close()
}

// PoolStats reports the backend's device memory.
func (b *Backend) PoolStats() PoolStats { return b.pool.Stats() }

// Prepare folds the graph's constants on the GPU, plans its memory, lowers it and uploads
// what it needs: after Prepare, Run allocates nothing on the device.
func (b *Backend) Prepare(g *graph.Graph) (engine.Program, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := b.dev.current(); err != nil {
		return nil, err
	}
	if err := graph.FoldConstants(g, b.fold); err != nil {
		return nil, err
	}
	g.Plan = graph.PlanMemory(g)
	low, err := Lower(g)
	if err != nil {
		return nil, err
	}
	return b.load(low)
}

// constant uploads a constant once (programs of other batch sizes share it) and returns
// its device address; ok is false for an empty constant (no memory, nothing to release).
func (b *Backend) constant(c Const) (ptr uintptr, ok bool, err error) {
	data, err := hostBytes(c.Data)
	if err != nil || len(data) == 0 {
		return 0, false, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, false, errClosedBackend
	}
	if u, hit := b.consts[c.Key]; hit {
		if u.block.Size < int64(len(data)) { // equal keys, different data: a bug upstream
			return 0, false, fmt.Errorf("%w: constant of %d bytes cached with %d", errLayout, len(data), u.block.Size)
		}
		u.refs++
		return u.block.Ptr, true, nil
	}
	blk, err := b.pool.Get(int64(len(data)))
	if err != nil {
		return 0, false, err
	}
	if err := copyHtoD(blk.Ptr, data); err != nil {
		b.pool.Put(blk)
		return 0, false, err
	}
	b.consts[c.Key] = &upload{block: blk, refs: 1}
	return blk.Ptr, true, nil
}

// release drops one program's references to its constants and returns its block.
func (b *Backend) release(block Block, consts []ConstKey) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	for _, key := range consts {
		if u := b.consts[key]; u != nil {
			if u.refs--; u.refs == 0 {
				b.pool.Put(u.block)
				delete(b.consts, key)
			}
		}
	}
	b.pool.Put(block)
}

// errClosedBackend is returned by programs of a closed backend.
var errClosedBackend = errors.New("cuda: backend closed")
