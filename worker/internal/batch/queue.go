package batch

import (
	"context"
	"slices"
	"time"
)

// enqueue inserts r in rank order, or refuses it.
func (b *Batcher) enqueue(r *request) error {
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		return ErrClosed
	}
	if len(b.queue) >= b.cfg.MaxQueueSize {
		b.dropDoneLocked()
		if len(b.queue) >= b.cfg.MaxQueueSize {
			b.mu.Unlock()
			return errorf(ErrQueueFull, "%d requests queued", b.cfg.MaxQueueSize)
		}
	}
	i, _ := slices.BinarySearchFunc(b.queue, r.rank, func(q *request, rank int64) int {
		if q.rank <= rank { // equal ranks stay in arrival order
			return -1
		}
		return 1
	})
	b.queue = slices.Insert(b.queue, i, r)
	n := len(b.queue)
	b.mu.Unlock()
	b.cfg.Observer.QueueDepth(n)
	b.signal()
	return nil
}

// dropDoneLocked removes the requests whose context is done, answering them with its
// error. b.mu must be held.
func (b *Batcher) dropDoneLocked() {
	b.queue = slices.DeleteFunc(b.queue, func(r *request) bool {
		if err := r.ctx.Err(); err != nil {
			r.finish(nil, err)
			return true
		}
		return false
	})
}

// next waits for the next batch; it returns nil when the runner should stop: the queue is
// empty after Close, or ctx is done.
func (b *Batcher) next(ctx context.Context) []*request {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for ctx.Err() == nil {
		b.mu.Lock()
		b.dropDoneLocked()
		batch, wait := b.formLocked()
		left, closing := len(b.queue), b.closing
		b.mu.Unlock()
		if batch != nil {
			b.cfg.Observer.QueueDepth(left)
			if left > 0 {
				b.signal() // another runner may take the rest
			}
			return batch
		}
		if closing && left == 0 {
			b.signal() // let the other runners see it too
			return nil
		}
		var expired <-chan time.Time
		if wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			expired = timer.C
		}
		select {
		case <-b.wake:
		case <-expired:
		case <-ctx.Done():
		}
	}
	return nil
}

// formLocked takes the next batch off the queue: the best request and the compatible ones
// after it, up to MaxBatchSize items, trimmed to the largest run size (see runSize). It
// returns nil and how long to wait when the batch should wait for more requests (or nil,
// 0 on an empty queue). b.mu must be held.
func (b *Batcher) formLocked() ([]*request, time.Duration) {
	if len(b.queue) == 0 {
		return nil, 0
	}
	head := b.queue[0]
	if head.key == "" {
		b.queue = slices.Delete(b.queue, 0, 1)
		return []*request{head}, 0
	}
	var picked, sums []int // queue indexes and the item count after each
	items := 0
	for i, r := range b.queue {
		if r.key != head.key || items+r.items > b.cfg.MaxBatchSize {
			continue
		}
		items += r.items
		picked, sums = append(picked, i), append(sums, items)
		if items == b.cfg.MaxBatchSize {
			break
		}
	}
	waited := b.cfg.Now().Sub(head.arrived)
	ready := items == b.cfg.MaxBatchSize || b.closing || waited >= b.cfg.MaxQueueDelay ||
		slices.ContainsFunc(sums, func(n int) bool { return slices.Contains(b.cfg.PreferredBatchSizes, n) })
	if !ready {
		return nil, b.cfg.MaxQueueDelay - waited
	}
	for k := len(sums); k > 0; k-- {
		if b.runSize(sums[k-1]) {
			picked = picked[:k]
			break
		}
	}
	batch := make([]*request, len(picked))
	for j, i := range picked {
		batch[j] = b.queue[i]
		b.queue[i] = nil
	}
	b.queue = slices.DeleteFunc(b.queue, func(r *request) bool { return r == nil })
	return batch, 0
}

// runSize reports whether a batch of n items is one the Batcher likes to run: MaxBatchSize
// and the PreferredBatchSizes, or, when none are configured, the powers of two. Keeping
// to few sizes keeps the engine's prepared programs (one per input shape) cached.
func (b *Batcher) runSize(n int) bool {
	if n == b.cfg.MaxBatchSize {
		return true
	}
	if len(b.cfg.PreferredBatchSizes) > 0 {
		return slices.Contains(b.cfg.PreferredBatchSizes, n)
	}
	return n&(n-1) == 0
}
