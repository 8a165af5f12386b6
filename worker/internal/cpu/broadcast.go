package cpu

import (
	"fmt"
	"slices"

	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// broadcastPlan describes a two-operand broadcast as runs along the innermost dimension: for
// each run, out[o : o+n] pairs with a[ia + i·stepA] and b[ib + i·stepB].
type broadcastPlan struct {
	shape        []int
	sa, sb       []int
	inner        int
	stepA, stepB int
}

// planBuf is the storage of a plan's slices; a caller keeps it on its stack so that planning
// allocates nothing (ranks above maxDims still work, with allocation).
type planBuf [3 * maxDims]int

// planBroadcast checks the operand shapes and that out has their broadcast shape.
func planBroadcast(buf *planBuf, out, a, b []int) (broadcastPlan, error) {
	shape, err := tensor.AppendBroadcastShape(buf[:0:maxDims], a, b)
	if err != nil {
		return broadcastPlan{}, fmt.Errorf("%w: %w", ErrShape, err)
	}
	if !tensor.EqualShapes(shape, out) {
		return broadcastPlan{}, fmt.Errorf("%w: destination %v, want %v", ErrShape, slices.Clone(out), slices.Clone(shape))
	}
	sa, _ := tensor.AppendBroadcastStrides(buf[maxDims:maxDims:2*maxDims], a, shape)
	sb, _ := tensor.AppendBroadcastStrides(buf[2*maxDims:2*maxDims:3*maxDims], b, shape)
	p := broadcastPlan{shape: shape, sa: sa, sb: sb, inner: 1}
	if len(shape) > 0 {
		last := len(shape) - 1
		p.inner, p.stepA, p.stepB = shape[last], sa[last], sb[last]
		if tensor.EqualShapes(a, b) {
			p.inner, p.stepA, p.stepB = tensor.Numel(shape), 1, 1
		}
	}
	return p, nil
}

// runs calls f for each innermost run of the broadcast.
func (p *broadcastPlan) runs(f func(o, ia, ib, n int)) {
	total := tensor.Numel(p.shape)
	if p.inner == 0 || total == 0 {
		return
	}
	rank := len(p.shape)
	var idx [16]int
	var counter []int
	if rank > len(idx) {
		counter = make([]int, rank)
	} else {
		counter = idx[:max(rank-1, 0)]
	}
	ia, ib := 0, 0
	for o := 0; o < total; o += p.inner {
		f(o, ia, ib, p.inner)
		if p.inner == total {
			return
		}
		for d := rank - 2; d >= 0; d-- {
			counter[d]++
			ia += p.sa[d]
			ib += p.sb[d]
			if counter[d] < p.shape[d] {
				break
			}
			ia -= counter[d] * p.sa[d]
			ib -= counter[d] * p.sb[d]
			counter[d] = 0
		}
	}
}
