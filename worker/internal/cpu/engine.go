package cpu

import (
	"runtime"
	"sync"
)

// Options configures an Engine. The zero value uses one thread per CPU.
type Options struct {
	// Threads is the number of threads the parallel kernels use; 0 means runtime.NumCPU().
	Threads int
}

// Engine runs the parallel kernels (GEMM, linear, matmul, convolution, attention, max
// pooling) on a fixed pool of worker goroutines and keeps their scratch buffers between
// calls, so that repeated calls with the same shapes allocate nothing. Its methods may be
// called concurrently; they run one at a time. The element-wise and reduction kernels are
// plain functions.
type Engine struct {
	mu      sync.Mutex
	pool    *pool
	scratch []workerScratch

	// The state of the running call, kept here so that calls do not allocate. Guarded by mu.
	gemm    gemmJob
	bJob    packJob   // the GEMM's parallel packing of B
	bpack   []float32 // B packed whole
	da      denseA    // Sgemm, Linear and Matmul operands
	db      denseB
	bmm     bmmJob
	dw      depthwiseJob
	conv    convJob
	maxPool maxPoolJob
	attn    attentionJob
	// reserved holds the sizes ReserveConv2d asked for: a shared buffer that must grow
	// is allocated at once at that size. Guarded by mu.
	reserved scratchSizes
}

// workerScratch is the private scratch of one worker.
type workerScratch struct {
	apack  []float32        // packed A block (mcBlock x kcBlock)
	bpack  []float32        // packed B for GEMMs a worker runs alone (attention)
	bblock []float32        // a task's packed B panels
	tile   [mr * nr]float32 // partial edge tile
	rows   []float32        // attention scores / per-row temporaries
	da     denseA           // operands of the worker's own GEMM
	db     denseB
	// conv is the B operand and buffers of the convolution GEMMs the worker runs alone,
	// or, in worker 0's, of those the whole pool runs.
	conv convScratch
}

// New returns an Engine; call Close to stop its threads.
func New(opts Options) *Engine {
	t := opts.Threads
	if t <= 0 {
		t = runtime.NumCPU()
	}
	e := &Engine{pool: newPool(t), scratch: make([]workerScratch, t)}
	return e
}

// Threads returns the number of threads the engine runs kernels on.
func (e *Engine) Threads() int { return e.pool.threads }

// Close stops the engine's worker goroutines; later calls return ErrClosed.
func (e *Engine) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pool.close()
}

// lock takes e.mu, or returns ErrClosed (without holding it) once the engine is closed.
func (e *Engine) lock() error {
	e.mu.Lock()
	if e.pool.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// grow returns buf resliced to n elements, reallocating only when its capacity is short.
func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}
