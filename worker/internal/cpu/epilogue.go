package cpu

import "fmt"

// BiasAxis says which dimension of C a fused bias runs along.
type BiasAxis int

// Bias axes.
const (
	// BiasPerColumn adds Bias[j] to every C[i][j] (a Linear layer's bias).
	BiasPerColumn BiasAxis = iota
	// BiasPerRow adds Bias[i] to every C[i][j] (a convolution's per-channel bias).
	BiasPerRow
)

// Epilogue is the work fused into a GEMM's write-back of C, applied to each tile while it is
// still in cache, in this order: C += Bias (along BiasAxis); C += Residual; C = Act(C). That is
// PyTorch's act(x·Wᵀ + b + residual), e.g. ResNet's relu(bn(conv(x)) + identity). A zero
// Epilogue does nothing.
type Epilogue struct {
	// Bias has n elements for BiasPerColumn or m for BiasPerRow; nil means none.
	Bias []float32
	// BiasAxis picks the bias direction.
	BiasAxis BiasAxis
	// Residual is an m x n matrix with row stride ResidualStride added to C; nil means none.
	// It may alias C's own storage only if it is C itself.
	Residual []float32
	// ResidualStride is Residual's row stride; 0 means n.
	ResidualStride int
	// Act is applied last.
	Act Activation
}

// empty reports whether the epilogue does nothing.
func (ep *Epilogue) empty() bool {
	return ep == nil || (ep.Bias == nil && ep.Residual == nil && ep.Act == ActNone)
}

// check validates the epilogue against an m x n result.
func (ep *Epilogue) check(m, n int) error {
	if ep == nil {
		return nil
	}
	if !ep.Act.valid() {
		return fmt.Errorf("%w: activation %d", ErrArgument, ep.Act)
	}
	if ep.Bias != nil {
		want := n
		if ep.BiasAxis == BiasPerRow {
			want = m
		}
		if len(ep.Bias) != want {
			return fmt.Errorf("%w: bias of %d for a %dx%d result", ErrShape, len(ep.Bias), m, n)
		}
	}
	if ep.Residual != nil {
		ld := ep.ldr(n)
		if ld < n || (m > 0 && len(ep.Residual) < (m-1)*ld+n) {
			return fmt.Errorf("%w: residual of %d (stride %d) for a %dx%d result", ErrShape, len(ep.Residual), ld, m, n)
		}
	}
	return nil
}

func (ep *Epilogue) ldr(n int) int {
	if ep.ResidualStride == 0 {
		return n
	}
	return ep.ResidualStride
}

// apply runs the epilogue on the rows i0..i0+rows and columns j0..j0+cols of C (row stride
// ldc, full width n).
func (ep *Epilogue) apply(c []float32, ldc, n, i0, rows, j0, cols int) {
	ldr := ep.ldr(n)
	for i := i0; i < i0+rows; i++ {
		row := c[i*ldc+j0 : i*ldc+j0+cols]
		var bvec, res []float32
		var bscalar *float32
		if ep.Bias != nil {
			if ep.BiasAxis == BiasPerRow {
				bscalar = &ep.Bias[i]
			} else {
				bvec = ep.Bias[j0 : j0+cols]
			}
		}
		if ep.Residual != nil {
			res = ep.Residual[i*ldr+j0 : i*ldr+j0+cols]
		}
		fuseRow(row, row, bvec, bscalar, res, ep.Act)
	}
}

// fuseRow computes dst[i] = act(src[i] + bias + res[i]), where the bias is bvec[i], *bscalar
// or nothing (both nil) and res may be nil. dst may be src.
func fuseRow(dst, src, bvec []float32, bscalar *float32, res []float32, act Activation) {
	done := fuseRowVector(dst, src, bvec, bscalar, res, act == ActReLU)
	for i := done; i < len(dst); i++ {
		v := src[i]
		if bvec != nil {
			v += bvec[i]
		} else if bscalar != nil {
			v += *bscalar
		}
		if res != nil {
			v += res[i]
		}
		dst[i] = v
	}
	if act == ActReLU {
		ActReLU.apply(dst[done:])
		return
	}
	act.apply(dst)
}
