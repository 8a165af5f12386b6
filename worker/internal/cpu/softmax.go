package cpu

import (
	"fmt"
	"math"

	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// Softmax computes torch.softmax(x, dim) into dst (x's shape; dst may be x): along dim,
// exp(x − max) / Σ exp(x − max), so large inputs do not overflow. A slice that is all −Inf
// gives NaN, as in PyTorch.
func Softmax(dst, x *tensor.Tensor, dim int) error { return softmax(dst, x, dim, false) }

// LogSoftmax computes torch.log_softmax(x, dim) = x − max − log Σ exp(x − max) into dst.
func LogSoftmax(dst, x *tensor.Tensor, dim int) error { return softmax(dst, x, dim, true) }

func softmax(dst, x *tensor.Tensor, dim int, logOut bool) error {
	if err := validate(dst, x); err != nil {
		return err
	}
	if !tensor.EqualShapes(dst.Shape, x.Shape) {
		return fmt.Errorf("%w: destination %v for input %v", ErrShape, dst.Shape, x.Shape)
	}
	rank := max(x.Rank(), 1) // a scalar behaves as one element along dim 0 or -1
	d, ok := tensor.NormDim(dim, rank)
	if !ok {
		return fmt.Errorf("%w: dim %d for shape %v", ErrArgument, dim, x.Shape)
	}
	outer, size, inner := splitAt(x.Shape, d)
	for o := range outer {
		for in := range inner {
			base := o*size*inner + in
			softmaxLine(dst.Data, x.Data, base, inner, size, logOut)
		}
	}
	return nil
}

// softmaxLine normalises the size elements at base, base+stride, ... of x into out, with the
// float32 exponential (within 2 ulp) and float64 sums.
func softmaxLine(out, x []float32, base, stride, size int, logOut bool) {
	m := float32(math.Inf(-1))
	for i := range size {
		if v := x[base+i*stride]; v > m || v != v {
			m = v
		}
	}
	if stride == 1 && !logOut {
		row := out[base : base+size]
		copy(row, x[base:base+size])
		inv := 1 / expSubSum(row, m)
		for i := range row {
			row[i] *= inv
		}
		return
	}
	var sum float64
	for i := range size {
		e := expf(x[base+i*stride] - m)
		if !logOut {
			out[base+i*stride] = e
		}
		sum += float64(e)
	}
	if logOut {
		ls := float32(math.Log(sum))
		for i := range size {
			out[base+i*stride] = x[base+i*stride] - m - ls
		}
		return
	}
	inv := float32(1 / sum)
	for i := range size {
		out[base+i*stride] *= inv
	}
}

// splitAt returns the products of shape's dimensions before d, at d and after d. Out-of-range
// d (a scalar's dim 0) counts as size 1.
func splitAt(shape []int, d int) (outer, size, inner int) {
	outer, size, inner = 1, 1, 1
	for i, s := range shape {
		switch {
		case i < d:
			outer *= s
		case i == d:
			size = s
		default:
			inner *= s
		}
	}
	return outer, size, inner
}
