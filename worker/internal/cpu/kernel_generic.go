package cpu

// Register-block sizes of the micro-kernel: a C tile is mr rows by nr columns.
const (
	mr = 6
	nr = 16
)

// rowPanels is the number of B micro-panels the one-row kernel rowKernel4 covers at once: a
// single row's FMA chains are latency-bound, and four tiles give the FMA units eight
// independent chains.
const rowPanels = 4

// forceGeneric makes microKernel use the portable kernel even where AVX2 is present. Tests
// set it to check the fallback; it is never changed while kernels run.
var forceGeneric bool

// kernelGeneric is the portable micro-kernel: it multiplies a packed A micro-panel (k groups
// of mr floats) by a packed B micro-panel (k groups of nr floats) and stores the mr x nr
// result to c (row stride ldc), or adds it to c when accumulate is set.
func kernelGeneric(k int, a, b, c []float32, ldc int, accumulate bool) {
	var acc [mr * nr]float32
	a = a[:k*mr]
	b = b[:k*nr]
	for p := range k {
		ap := a[p*mr : p*mr+mr]
		bp := b[p*nr : p*nr+nr]
		for i, av := range ap {
			row := acc[i*nr : i*nr+nr]
			for j, bv := range bp {
				row[j] += av * bv
			}
		}
	}
	for i := range mr {
		dst := c[i*ldc : i*ldc+nr]
		src := acc[i*nr : i*nr+nr]
		if accumulate {
			for j := range dst {
				dst[j] += src[j]
			}
		} else {
			copy(dst, src)
		}
	}
}

// rowKernel4Generic runs rowKernelGeneric on rowPanels B micro-panels ldb floats apart,
// storing to (or adding to) adjacent 16-float tiles of c.
func rowKernel4Generic(k int, a, b []float32, ldb int, c []float32, accumulate bool) {
	for q := range rowPanels {
		rowKernelGeneric(k, a, b[q*ldb:], c[q*nr:], accumulate)
	}
}

// rowKernelGeneric multiplies the first row of a packed A micro-panel (stride mr) by a packed
// B micro-panel and stores the nr results to c, or adds them when accumulate is set.
func rowKernelGeneric(k int, a, b, c []float32, accumulate bool) {
	var acc [nr]float32
	b = b[:k*nr]
	for p := range k {
		av := a[p*mr]
		for j, bv := range b[p*nr : p*nr+nr] {
			acc[j] += av * bv
		}
	}
	c = c[:nr]
	if accumulate {
		for j := range c {
			c[j] += acc[j]
		}
		return
	}
	copy(c, acc[:])
}
