//go:build !purego

package cpu

import "golang.org/x/sys/cpu"

// kernel6x16AVX2 is the AVX2/FMA micro-kernel in kernel_amd64.s. a and b point at packed
// micro-panels of k steps; c at the top-left of a 6x16 tile with row stride ldc.
//
//go:noescape
func kernel6x16AVX2(k int, a, b, c *float32, ldc int, accumulate bool)

// kernel1x16AVX2 is the one-row micro-kernel in kernel_amd64.s: a steps by lda floats.
//
//go:noescape
func kernel1x16AVX2(k int, a *float32, lda int, b, c *float32, accumulate bool)

// kernel1x64AVX2 is the one-row kernel over four B micro-panels ldb floats apart, in
// kernel_amd64.s.
//
//go:noescape
func kernel1x64AVX2(k int, a *float32, lda int, b *float32, ldb int, c *float32, accumulate bool)

// expSubSumAVX2 is the vector exponential in exp_amd64.s: x[i] = e^(x[i]-m) for n (a multiple
// of 8) elements; it returns their sum.
//
//go:noescape
func expSubSumAVX2(x *float32, n int, m float32) float32

// geluAVX2 and geluTanhAVX2 are the vector GELUs in exp_amd64.s, in place on n (a multiple of
// 8) elements.
//
//go:noescape
func geluAVX2(x *float32, n int)

//go:noescape
func geluTanhAVX2(x *float32, n int)

// fuseRowAVX2 is the vector epilogue in epilogue_amd64.s; see fuseRow for the flags.
//
//go:noescape
func fuseRowAVX2(dst, src, bias, res *float32, n int, flags int)

// hasAVX2 reports whether the AVX2/FMA micro-kernel can run on this CPU.
var hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// microKernel runs the fastest micro-kernel available; see kernelGeneric for the contract.
func microKernel(k int, a, b, c []float32, ldc int, accumulate bool) {
	if hasAVX2 && !forceGeneric {
		kernel6x16AVX2(k, &a[0], &b[0], &c[0], ldc, accumulate)
		return
	}
	kernelGeneric(k, a, b, c, ldc, accumulate)
}

// rowKernel computes one row of a tile: the first row of a packed A micro-panel times a packed
// B micro-panel, stored to or added to the 16 floats of c.
func rowKernel(k int, a, b, c []float32, accumulate bool) {
	if hasAVX2 && !forceGeneric {
		kernel1x16AVX2(k, &a[0], mr, &b[0], &c[0], accumulate)
		return
	}
	rowKernelGeneric(k, a, b, c, accumulate)
}

// rowKernel4 computes one row of rowPanels adjacent tiles: the first row of a packed A
// micro-panel times the rowPanels packed B micro-panels at b, ldb floats apart, stored to or
// added to the rowPanels·nr floats of c. Every result is computed exactly as rowKernel and
// microKernel compute it.
func rowKernel4(k int, a, b []float32, ldb int, c []float32, accumulate bool) {
	if hasAVX2 && !forceGeneric {
		_ = b[(rowPanels-1)*ldb+k*nr-1]
		_ = c[rowPanels*nr-1]
		kernel1x64AVX2(k, &a[0], mr, &b[0], ldb, &c[0], accumulate)
		return
	}
	rowKernel4Generic(k, a, b, ldb, c, accumulate)
}

// expSubSum replaces x[i] by e^(x[i]−m) and returns the sum of the results.
func expSubSum(x []float32, m float32) float32 {
	var sum float32
	if n := len(x) &^ 7; n > 0 && hasAVX2 && !forceGeneric {
		sum = expSubSumAVX2(&x[0], n, m)
		x = x[n:]
	}
	return sum + expSubSumGeneric(x, m)
}

// geluSlice applies gelu (tanh selects the tanh approximation) to x in place. With AVX2 the
// last len(x) mod 8 elements go through the vector code too, padded, because its results
// differ from the portable code's in the last bits: an element's result must not depend on
// where it falls in the slice (its row's place in a batch).
func geluSlice(x []float32, tanh bool) {
	if !hasAVX2 || forceGeneric {
		geluSliceGeneric(x, tanh)
		return
	}
	n := len(x) &^ 7
	geluVector(x[:n], tanh)
	if tail := x[n:]; len(tail) > 0 {
		var buf [8]float32
		copy(buf[:], tail)
		geluVector(buf[:], tanh)
		copy(tail, buf[:])
	}
}

// geluVector runs the AVX2 GELU on x, whose length is a multiple of 8.
func geluVector(x []float32, tanh bool) {
	switch {
	case len(x) == 0:
	case tanh:
		geluTanhAVX2(&x[0], len(x))
	default:
		geluAVX2(&x[0], len(x))
	}
}

// fuseRowVector runs the vector epilogue on the longest multiple of 8 elements of dst and
// returns how many it did; see fuseRow.
func fuseRowVector(dst, src, bvec []float32, bscalar *float32, res []float32, relu bool) int {
	n := len(dst) &^ 7
	if n == 0 || !hasAVX2 || forceGeneric {
		return 0
	}
	flags := 0
	var bias *float32
	switch {
	case bvec != nil:
		flags, bias = 1, &bvec[0]
	case bscalar != nil:
		flags, bias = 2, bscalar
	}
	var r *float32
	if res != nil {
		flags |= 4
		r = &res[0]
	}
	if relu {
		flags |= 8
	}
	fuseRowAVX2(&dst[0], &src[0], bias, r, n, flags)
	return n
}
