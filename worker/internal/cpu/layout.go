package cpu

import (
	"fmt"
	"slices"

	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// Permute copies x.permute(perm) into dst as a contiguous tensor (x.permute(perm).contiguous()):
// dst.Shape[i] = x.Shape[perm[i]]. Negative entries of perm count from the end.
func Permute(dst, x *tensor.Tensor, perm []int) error {
	if err := validate(dst, x); err != nil {
		return err
	}
	r := x.Rank()
	if len(perm) != r {
		return fmt.Errorf("%w: permutation %v for rank %d", ErrArgument, slices.Clone(perm), r)
	}
	var seenBuf [maxDims]bool
	var wantBuf, srcBuf, strideBuf [maxDims]int
	seen := seenBuf[:0]
	for range r {
		seen = append(seen, false)
	}
	src := append(srcBuf[:0], x.Shape...)
	acc := 1
	for i := r - 1; i >= 0; i-- {
		src[i], acc = acc, acc*x.Shape[i]
	}
	want, strides := wantBuf[:0], strideBuf[:0]
	for _, p := range perm {
		d, ok := tensor.NormDim(p, r)
		if !ok || seen[d] {
			return fmt.Errorf("%w: permutation %v for rank %d", ErrArgument, slices.Clone(perm), r)
		}
		seen[d] = true
		want, strides = append(want, x.Shape[d]), append(strides, src[d])
	}
	if err := checkDst(dst, want); err != nil {
		return err
	}
	stridedCopy(dst.Data, x.Data, want, strides)
	return nil
}

// Transpose copies x.transpose(d0, d1).contiguous() into dst.
func Transpose(dst, x *tensor.Tensor, d0, d1 int) error {
	var buf [maxDims]int
	perm := buf[:0]
	for i := range x.Rank() {
		perm = append(perm, i)
	}
	a, okA := tensor.NormDim(d0, x.Rank())
	b, okB := tensor.NormDim(d1, x.Rank())
	if !okA || !okB {
		return fmt.Errorf("%w: transpose dims %d, %d for rank %d", ErrArgument, d0, d1, x.Rank())
	}
	perm[a], perm[b] = perm[b], perm[a]
	return Permute(dst, x, perm)
}

// stridedCopy writes, in row-major order of shape, the elements of src at the given strides.
func stridedCopy(dst, src []float32, shape, strides []int) {
	n := len(dst)
	if n == 0 {
		return
	}
	r := len(shape)
	if r == 0 {
		dst[0] = src[0]
		return
	}
	inner, step := shape[r-1], strides[r-1]
	var idxBuf [maxDims]int
	idx := idxBuf[:0]
	for range r {
		idx = append(idx, 0)
	}
	off := 0
	for o := 0; o < n; o += inner {
		out := dst[o : o+inner]
		if step == 1 {
			copy(out, src[off:off+inner])
		} else {
			for i := range out {
				out[i] = src[off+i*step]
			}
		}
		for d := r - 2; d >= 0; d-- {
			idx[d]++
			off += strides[d]
			if idx[d] < shape[d] {
				break
			}
			off -= idx[d] * strides[d]
			idx[d] = 0
		}
	}
}

// Cat computes torch.cat(xs, dim) into dst. All inputs have the same rank and agree on every
// dimension but dim.
func Cat(dst *tensor.Tensor, xs []*tensor.Tensor, dim int) error {
	if len(xs) == 0 {
		return fmt.Errorf("%w: cat of no tensors", ErrArgument)
	}
	if err := validate(dst); err != nil {
		return err
	}
	if err := validate(xs...); err != nil {
		return err
	}
	r := xs[0].Rank()
	d, ok := tensor.NormDim(dim, r)
	if !ok {
		return fmt.Errorf("%w: cat dim %d for rank %d", ErrArgument, dim, r)
	}
	var buf [maxDims]int
	want := append(buf[:0], xs[0].Shape...)
	want[d] = 0
	for _, x := range xs {
		if x.Rank() != r {
			return fmt.Errorf("%w: cat of %v and %v", ErrShape, xs[0].Shape, x.Shape)
		}
		for i := range r {
			if i != d && x.Shape[i] != want[i] {
				return fmt.Errorf("%w: cat of %v and %v along %d", ErrShape, xs[0].Shape, x.Shape, d)
			}
		}
		want[d] += x.Shape[d]
	}
	if err := checkDst(dst, want); err != nil {
		return err
	}
	outer, total, inner := splitAt(want, d)
	off := 0
	for _, x := range xs {
		w := x.Shape[d] * inner
		for o := range outer {
			copy(dst.Data[o*total*inner+off:o*total*inner+off+w], x.Data[o*w:(o+1)*w])
		}
		off += w
	}
	return nil
}

// SliceLen normalises a torch slice (x[start:end:step] along a dimension of the given size):
// negative start and end count from the end, both are clamped to [0, size], and the result is
// the clamped start and the number of elements taken. step must be positive.
func SliceLen(size, start, end, step int) (int, int, error) {
	if step <= 0 {
		return 0, 0, fmt.Errorf("%w: slice step %d", ErrArgument, step)
	}
	clamp := func(i int) int {
		if i < 0 {
			i += size
		}
		return min(max(i, 0), size)
	}
	s, e := clamp(start), clamp(end)
	if e <= s {
		return s, 0, nil
	}
	return s, (e - s + step - 1) / step, nil
}

// Slice copies torch.slice(x, dim, start, end, step) (x[..., start:end:step, ...]) into dst;
// start and end follow SliceLen.
func Slice(dst, x *tensor.Tensor, dim, start, end, step int) error {
	if err := validate(dst, x); err != nil {
		return err
	}
	d, ok := tensor.NormDim(dim, x.Rank())
	if !ok {
		return fmt.Errorf("%w: slice dim %d for rank %d", ErrArgument, dim, x.Rank())
	}
	s, n, err := SliceLen(x.Shape[d], start, end, step)
	if err != nil {
		return err
	}
	return gather(dst, x, d, s, n, step)
}

// Select copies torch.select(x, dim, index) into dst, which has x's shape without dim.
// A negative index counts from the end; one out of range wraps ErrIndex.
func Select(dst, x *tensor.Tensor, dim, index int) error {
	if err := validate(dst, x); err != nil {
		return err
	}
	d, ok := tensor.NormDim(dim, x.Rank())
	if !ok {
		return fmt.Errorf("%w: select dim %d for rank %d", ErrArgument, dim, x.Rank())
	}
	i, ok := tensor.NormDim(index, x.Shape[d])
	if !ok {
		return fmt.Errorf("%w: select index %d for size %d", ErrIndex, index, x.Shape[d])
	}
	var buf [maxDims]int
	want := append(append(buf[:0], x.Shape[:d]...), x.Shape[d+1:]...)
	if err := checkDst(dst, want); err != nil {
		return err
	}
	outer, size, inner := splitAt(x.Shape, d)
	for o := range outer {
		copy(dst.Data[o*inner:(o+1)*inner], x.Data[(o*size+i)*inner:(o*size+i+1)*inner])
	}
	return nil
}

// gather copies n entries start, start+step, ... of dimension d of x into dst.
func gather(dst, x *tensor.Tensor, d, start, n, step int) error {
	var buf [maxDims]int
	want := append(buf[:0], x.Shape...)
	want[d] = n
	if err := checkDst(dst, want); err != nil {
		return err
	}
	outer, size, inner := splitAt(x.Shape, d)
	for o := range outer {
		for k := range n {
			src := (o*size + start + k*step) * inner
			copy(dst.Data[(o*n+k)*inner:(o*n+k+1)*inner], x.Data[src:src+inner])
		}
	}
	return nil
}
