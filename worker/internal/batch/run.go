package batch

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/torchgate/torchgate/worker/internal/engine"
)

// run is one instance's loop: take a batch, run it, answer it.
func (b *Batcher) run(ctx context.Context, m Model) {
	defer b.runners.Done()
	for {
		batch := b.next(ctx)
		if batch == nil {
			return
		}
		b.execute(ctx, m, batch)
	}
}

// execute runs one batch and answers every request in it. Requests whose context ended
// while queued are answered with its error and left out of the run; the run is cancelled
// when the contexts of all its requests end.
func (b *Batcher) execute(ctx context.Context, m Model, batch []*request) {
	start := b.cfg.Now()
	batch = slices.DeleteFunc(batch, func(r *request) bool {
		b.cfg.Observer.Dequeued(start.Sub(r.arrived))
		if err := r.ctx.Err(); err != nil {
			r.finish(nil, err)
			return true
		}
		return false
	})
	if len(batch) == 0 {
		return
	}
	items := 0
	for _, r := range batch {
		items += r.items
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// When every request of the batch has gone away, the run is pointless: stop it.
	var left atomic.Int64
	left.Store(int64(len(batch)))
	for _, r := range batch {
		stop := context.AfterFunc(r.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
		defer stop()
	}
	outs, err := runSafely(runCtx, m, merge(batch))
	b.cfg.Observer.Executed(items, b.cfg.Now().Sub(start))
	if err != nil {
		for _, r := range batch {
			r.finish(nil, err)
		}
		return
	}
	if len(batch) == 1 {
		batch[0].finish(outs, nil)
		return
	}
	if err := checkSplittable(outs, items); err != nil {
		for _, r := range batch {
			r.finish(nil, err)
		}
		return
	}
	row := 0
	for _, r := range batch {
		r.finish(split(outs, row, r.items), nil)
		row += r.items
	}
}

// runSafely calls m.Run, turning a panic into an error so one bad batch cannot stop the
// process.
func runSafely(ctx context.Context, m Model, inputs []engine.Tensor) (outs []engine.Tensor, err error) {
	defer func() {
		if p := recover(); p != nil {
			outs, err = nil, fmt.Errorf("batch: model run panicked: %v", p)
		}
	}()
	return m.Run(ctx, inputs)
}

// merge concatenates the batch's inputs along the first axis; the requests share a key, so
// dtypes and the other sizes agree.
func merge(batch []*request) []engine.Tensor {
	if len(batch) == 1 {
		return batch[0].inputs
	}
	first := batch[0].inputs
	merged := make([]engine.Tensor, len(first))
	for i, in := range first {
		shape := slices.Clone(in.Shape)
		shape[0] = 0
		ints, floats := make([][]int64, len(batch)), make([][]float32, len(batch))
		for j, r := range batch {
			shape[0] += r.items
			ints[j], floats[j] = r.inputs[i].Int64, r.inputs[i].Float32
		}
		// Concat allocates the merged data once (appending regrew it, copying megabytes for a
		// batch of images).
		t := engine.Tensor{Shape: shape}
		if in.Int64 != nil {
			t.Int64 = slices.Concat(ints...)
		} else {
			t.Float32 = slices.Concat(floats...)
		}
		merged[i] = t
	}
	return merged
}

// checkSplittable reports whether every output has items rows along its first axis and
// exactly the data its shape says.
func checkSplittable(outs []engine.Tensor, items int) error {
	for i, o := range outs {
		n := 1
		for _, d := range o.Shape {
			n *= d
		}
		if len(o.Shape) == 0 || o.Shape[0] != items || max(len(o.Float32), len(o.Int64)) != n {
			return fmt.Errorf("%w: output %d has shape %v for a batch of %d", ErrOutput, i, o.Shape, items)
		}
	}
	return nil
}

// split returns rows [row, row+n) of every output. The slices are capped so a request can
// never reach another request's rows.
func split(outs []engine.Tensor, row, n int) []engine.Tensor {
	res := make([]engine.Tensor, len(outs))
	for i, o := range outs {
		shape := slices.Clone(o.Shape)
		shape[0] = n
		per := 1
		for _, d := range o.Shape[1:] {
			per *= d
		}
		lo, hi := row*per, (row+n)*per
		t := engine.Tensor{Shape: shape}
		if o.Int64 != nil {
			t.Int64 = o.Int64[lo:hi:hi]
		} else {
			t.Float32 = o.Float32[lo:hi:hi]
		}
		res[i] = t
	}
	return res
}
