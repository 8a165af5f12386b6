package tensor

import (
	"fmt"
	"slices"
)

// Numel returns the number of elements of a tensor of the given shape (1 for a scalar).
// It returns -1 when a size is negative or the product overflows int.
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return -1
		}
		if d != 0 && n > maxInt/d {
			return -1
		}
		n *= d
	}
	return n
}

const maxInt = int(^uint(0) >> 1)

// Strides returns the row-major element strides of shape: the last dimension has stride 1.
func Strides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// BroadcastShapes returns the shape two operands broadcast to under NumPy/PyTorch rules:
// shapes are aligned at their last dimension, and each pair of sizes must be equal or one of
// them 1 (a missing leading dimension counts as 1).
func BroadcastShapes(a, b []int) ([]int, error) { return AppendBroadcastShape(nil, a, b) }

// AppendBroadcastShape appends the broadcast shape of a and b (see BroadcastShapes) to dst
// and returns the extended slice; with enough capacity in dst it does not allocate.
func AppendBroadcastShape(dst, a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	for i := range n {
		da, db := dimFromEnd(a, n-1-i), dimFromEnd(b, n-1-i)
		switch {
		case da < 0 || db < 0:
			return nil, fmt.Errorf("%w: %v and %v", ErrShape, slices.Clone(a), slices.Clone(b))
		case da == db || db == 1:
			dst = append(dst, da)
		case da == 1:
			dst = append(dst, db)
		default:
			return nil, fmt.Errorf("%w: %v and %v", ErrBroadcast, slices.Clone(a), slices.Clone(b))
		}
	}
	return dst, nil
}

// dimFromEnd returns shape's size k dimensions from the end, or 1 past its front.
func dimFromEnd(shape []int, k int) int {
	i := len(shape) - 1 - k
	if i < 0 {
		return 1
	}
	return shape[i]
}

// BroadcastStrides returns the element strides for reading a row-major tensor of shape src as
// if it had shape dst (which must be a broadcast of src): broadcast dimensions get stride 0.
func BroadcastStrides(src, dst []int) ([]int, error) { return AppendBroadcastStrides(nil, src, dst) }

// AppendBroadcastStrides appends the strides of BroadcastStrides(src, shape) to dst and
// returns the extended slice; with enough capacity in dst it does not allocate.
func AppendBroadcastStrides(dst, src, shape []int) ([]int, error) {
	if len(src) > len(shape) {
		return nil, fmt.Errorf("%w: %v to %v", ErrBroadcast, slices.Clone(src), slices.Clone(shape))
	}
	base := len(dst)
	for range shape {
		dst = append(dst, 0)
	}
	out := dst[base:]
	off := len(shape) - len(src)
	stride := 1
	for i := len(src) - 1; i >= 0; i-- {
		switch d := src[i]; d {
		case shape[off+i]:
			if d != 1 {
				out[off+i] = stride
			}
		case 1:
		default:
			return nil, fmt.Errorf("%w: %v to %v", ErrBroadcast, slices.Clone(src), slices.Clone(shape))
		}
		stride *= src[i]
	}
	return dst, nil
}

// EqualShapes reports whether a and b have the same dimensions.
func EqualShapes(a, b []int) bool { return slices.Equal(a, b) }

// NormDim maps a possibly negative dimension index (PyTorch style: -1 is the last) onto
// [0, rank) and reports whether it is in range.
func NormDim(dim, rank int) (int, bool) {
	if dim < 0 {
		dim += rank
	}
	return dim, dim >= 0 && dim < rank
}
