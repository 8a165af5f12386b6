package engine

import (
	"fmt"

	"github.com/torchgate/torchgate/worker/internal/graph"
	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// reducer computes torch.sum / torch.mean of x over Dims (sorted, distinct) into dst,
// accumulating in float64; it keeps its scratch between calls. The cpu package has no
// reduction kernel yet; this one belongs there.
type reducer struct {
	graph.Reduce
	sums []float64
	pos  []int
}

func (r *reducer) run(dst, x *tensor.Tensor) error {
	a := r.Reduce
	if err := x.Validate(); err != nil {
		return err
	}
	if err := dst.Validate(); err != nil {
		return err
	}
	var reducedBuf [8]bool
	reduced := reducedBuf[:0]
	if x.Rank() > len(reducedBuf) {
		reduced = make([]bool, 0, x.Rank())
	}
	reduced = reduced[:x.Rank()]
	count := 1
	for _, d := range a.Dims {
		if d < 0 || d >= x.Rank() {
			return fmt.Errorf("%w: reduce dim %d of %v", ErrInput, d, x.Shape)
		}
		reduced[d] = true
		count *= x.Shape[d]
	}
	if count == 0 || dst.Numel()*count != x.Numel() {
		return fmt.Errorf("%w: reduce %v over %v into %v", ErrInput, x.Shape, a.Dims, dst.Shape)
	}
	// out index of every input element: strides of the kept dims in dst's row-major order.
	var strideBuf [8]int
	strides := strideBuf[:0]
	if x.Rank() > len(strideBuf) {
		strides = make([]int, 0, x.Rank())
	}
	strides = strides[:x.Rank()]
	acc := 1
	for d := x.Rank() - 1; d >= 0; d-- {
		if !reduced[d] {
			strides[d] = acc
			acc *= x.Shape[d]
		}
	}
	if cap(r.sums) < dst.Numel() || cap(r.pos) < x.Rank() {
		r.sums, r.pos = make([]float64, dst.Numel()), make([]int, x.Rank())
	}
	sums, pos := r.sums[:dst.Numel()], r.pos[:x.Rank()]
	clear(sums)
	clear(pos)
	o := 0
	for _, v := range x.Data {
		sums[o] += float64(v)
		for d := x.Rank() - 1; d >= 0; d-- {
			pos[d]++
			o += strides[d]
			if pos[d] < x.Shape[d] {
				break
			}
			o -= pos[d] * strides[d]
			pos[d] = 0
		}
	}
	scale := 1.0
	if a.Kind == graph.ReduceMean {
		scale = 1 / float64(count)
	}
	for i, s := range sums {
		dst.Data[i] = float32(s * scale)
	}
	return nil
}
