package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// randSlice returns n uniform values in [-1, 1) from a seeded source.
func randSlice(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.Float64()*2 - 1)
	}
	return x
}

// refGemm is the naive float64-accumulating reference for Sgemm.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				ai, bi := i*lda+p, p*ldb+j
				if transA {
					ai = p*lda + i
				}
				if transB {
					bi = j*ldb + p
				}
				av, bv := a[ai], b[bi]
				s += float64(av) * float64(bv)
			}
			v := float64(alpha) * s
			if beta != 0 {
				v += float64(beta) * float64(c[i*ldc+j])
			}
			c[i*ldc+j] = float32(v)
		}
	}
}

// assertClose fails when got and want differ by more than tol·max(1, |want|) anywhere.
func assertClose(t *testing.T, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("length %d, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(w) && math.IsNaN(g) {
			continue
		}
		if math.IsInf(w, 0) && g == w {
			continue
		}
		if d := math.Abs(g - w); !(d <= tol*math.Max(1, math.Abs(w))) {
			t.Fatalf("element %d: got %v, want %v (diff %g)", i, g, w, d)
		}
	}
}

// newEngine returns an engine closed at the end of the test.
func newEngine(t testing.TB, threads int) *Engine {
	e := New(Options{Threads: threads})
	t.Cleanup(e.Close)
	return e
}

// withGeneric runs f with the portable micro-kernel forced.
func withGeneric(t *testing.T, f func()) {
	t.Helper()
	forceGeneric = true
	defer func() { forceGeneric = false }()
	f()
}
