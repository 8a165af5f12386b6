//go:build !amd64 || purego

package cpu

// hasAVX2 is false where the assembly micro-kernel is not built.
const hasAVX2 = false

// microKernel runs the portable micro-kernel; see kernelGeneric for the contract.
func microKernel(k int, a, b, c []float32, ldc int, accumulate bool) {
	kernelGeneric(k, a, b, c, ldc, accumulate)
}

// rowKernel computes one row of a tile with the portable kernel; see rowKernelGeneric.
func rowKernel(k int, a, b, c []float32, accumulate bool) {
	rowKernelGeneric(k, a, b, c, accumulate)
}

// rowKernel4 computes one row of rowPanels tiles with the portable kernel; see
// rowKernel4Generic.
func rowKernel4(k int, a, b []float32, ldb int, c []float32, accumulate bool) {
	rowKernel4Generic(k, a, b, ldb, c, accumulate)
}

// expSubSum replaces x[i] by e^(x[i]−m) and returns the sum; see expSubSumGeneric.
func expSubSum(x []float32, m float32) float32 { return expSubSumGeneric(x, m) }

// geluSlice applies gelu to x in place; see geluSliceGeneric.
func geluSlice(x []float32, tanh bool) { geluSliceGeneric(x, tanh) }

// fuseRowVector does nothing where there is no vector epilogue; see fuseRow.
func fuseRowVector(dst, src, bvec []float32, bscalar *float32, res []float32, relu bool) int {
	return 0
}
