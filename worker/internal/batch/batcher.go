package batch

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/torchgate/torchgate/worker/internal/engine"
)

// Model runs a forward pass; *engine.Model implements it. Run may be called concurrently on
// different Models, never concurrently on one by a Batcher.
type Model interface {
	Run(ctx context.Context, inputs []engine.Tensor) ([]engine.Tensor, error)
}

var _ Model = (*engine.Model)(nil)

// Observer receives the Batcher's measurements; its methods are called concurrently.
type Observer interface {
	// QueueDepth reports the number of queued requests after a change.
	QueueDepth(n int)
	// Dequeued reports how long one request waited before its batch started.
	Dequeued(wait time.Duration)
	// Executed reports one model run: the items (summed batch sizes) and its duration.
	Executed(items int, compute time.Duration)
}

// Config configures a Batcher. The zero value of a field means its default.
type Config struct {
	// MaxBatchSize is the most items (summed first dimensions) per run; 0 or 1 runs every
	// request alone.
	MaxBatchSize int
	// PreferredBatchSizes are item counts run as soon as they can be formed.
	PreferredBatchSizes []int
	// MaxQueueDelay is how long the best queued request may wait for a fuller batch.
	MaxQueueDelay time.Duration
	// MaxQueueSize bounds the queue; default 256.
	MaxQueueSize int
	// AgingStep is the wait that raises effective priority by one; default 100ms.
	AgingStep time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Observer receives measurements; nil discards them.
	Observer Observer
}

// Batcher queues requests for a set of model instances. Create it with New.
type Batcher struct {
	cfg     Config
	wake    chan struct{} // capacity 1: something was queued or closing began
	stop    context.CancelFunc
	runners sync.WaitGroup

	mu      sync.Mutex
	queue   []*request // best first; guarded by mu
	closing bool       // guarded by mu
}

// New starts a Batcher with one runner per model instance; with none, requests wait until
// their context ends.
func New(cfg Config, instances []Model) *Batcher {
	if cfg.MaxBatchSize < 1 {
		cfg.MaxBatchSize = 1
	}
	if cfg.MaxQueueSize < 1 {
		cfg.MaxQueueSize = 256
	}
	if cfg.AgingStep <= 0 {
		cfg.AgingStep = 100 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	ctx, stop := context.WithCancel(context.Background())
	b := &Batcher{cfg: cfg, wake: make(chan struct{}, 1), stop: stop}
	for _, m := range instances {
		b.runners.Add(1)
		go b.run(ctx, m)
	}
	return b
}

// Submit queues inputs at priority and waits for their outputs. Inputs with a first
// dimension are batched with compatible requests; the outputs then hold this request's
// rows only. It fails at once with ErrQueueFull, ErrClosed or ErrBatchTooLarge, and with
// ctx's error when ctx is done before the outputs are.
func (b *Batcher) Submit(ctx context.Context, inputs []engine.Tensor, priority int) ([]engine.Tensor, error) {
	r, err := newRequest(ctx, inputs, priority, b.cfg)
	if err != nil {
		return nil, err
	}
	if err := b.enqueue(r); err != nil {
		return nil, err
	}
	select {
	case res := <-r.done:
		return res.outputs, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Len returns the number of queued requests.
func (b *Batcher) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// Close refuses new requests, waits until the runners have finished the queue, and stops
// them. When ctx ends first, the requests still queued fail with ErrClosed and Close
// returns ctx's error after the runs in progress end.
func (b *Batcher) Close(ctx context.Context) error {
	b.mu.Lock()
	b.closing = true
	b.mu.Unlock()
	b.signal()
	done := make(chan struct{})
	go func() { b.runners.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	b.stop()
	<-done
	b.mu.Lock()
	left := b.queue
	b.queue = nil
	b.mu.Unlock()
	for _, r := range left {
		r.finish(nil, ErrClosed)
	}
	b.cfg.Observer.QueueDepth(0)
	return ctx.Err()
}

// signal wakes one waiting runner.
func (b *Batcher) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// nopObserver discards measurements.
type nopObserver struct{}

func (nopObserver) QueueDepth(int)              {}
func (nopObserver) Dequeued(time.Duration)      {}
func (nopObserver) Executed(int, time.Duration) {}

// errorf wraps a sentinel with detail.
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
