package cuda

import (
	"math"
	"math/rand/v2"
	"testing"
)

// colMajorGemm is cuBLAS's strided-batched GEMM on host slices (element (r, c) of a
// column-major matrix with leading dimension ld is at r + c·ld).
func colMajorGemm(g ColMajor, a, b, c []float32) {
	at := func(m []float32, trans bool, ld int, r, col int) float32 {
		if trans {
			return m[col+r*ld]
		}
		return m[r+col*ld]
	}
	for bi := range g.Batch {
		ab, bb, cb := a[int64(bi)*g.StrideA:], b[int64(bi)*g.StrideB:], c[int64(bi)*g.StrideC:]
		for i := range g.M {
			for j := range g.N {
				var s float32
				for k := range g.K {
					s += at(ab, g.TransA, g.LDA, i, k) * at(bb, g.TransB, g.LDB, k, j)
				}
				cb[i+j*g.LDC] = g.Alpha*s + g.Beta*cb[i+j*g.LDC]
			}
		}
	}
}

// TestColMajor checks the row-major → cuBLAS mapping against a plain row-major product.
func TestColMajor(t *testing.T) {
	tests := []struct {
		name           string
		m, n, k, batch int
		transA, transB bool
		shareA         bool
		alpha          float32
	}{
		{name: "plain", m: 3, n: 4, k: 5, batch: 1, alpha: 1},
		{name: "linear (B transposed)", m: 2, n: 7, k: 3, batch: 1, transB: true, alpha: 1},
		{name: "A transposed", m: 4, n: 2, k: 3, batch: 1, transA: true, alpha: 1},
		{name: "batched with scale (attention scores)", m: 3, n: 5, k: 4, batch: 3, transB: true, alpha: 0.5},
		{name: "shared weight across the batch (convolution)", m: 4, n: 6, k: 3, batch: 2, shareA: true, alpha: 1},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rand := func(n int) []float32 {
				s := make([]float32, n)
				for i := range s {
					s[i] = rng.Float32()*2 - 1
				}
				return s
			}
			g := Gemm{M: tc.m, N: tc.n, K: tc.k, TransA: tc.transA, TransB: tc.transB, Batch: tc.batch, Alpha: tc.alpha,
				LDA: tc.k, LDB: tc.n, LDC: tc.n, StrideA: int64(tc.m * tc.k), StrideB: int64(tc.k * tc.n), StrideC: int64(tc.m * tc.n)}
			if tc.transA {
				g.LDA = tc.m
			}
			if tc.transB {
				g.LDB = tc.k
			}
			if tc.shareA {
				g.StrideA = 0
			}
			a, b := rand(tc.m*tc.k*tc.batch), rand(tc.k*tc.n*tc.batch)
			got := make([]float32, tc.m*tc.n*tc.batch)
			colMajorGemm(g.ColMajor(), b, a, got) // cuBLAS sees the operands swapped
			for bi := range tc.batch {
				for i := range tc.m {
					for j := range tc.n {
						var want float32
						for k := range tc.k {
							ai, bj := i*g.LDA+k, k*g.LDB+j
							if tc.transA {
								ai = k*g.LDA + i
							}
							if tc.transB {
								bj = j*g.LDB + k
							}
							av, bv := a[int64(bi)*g.StrideA+int64(ai)], b[int64(bi)*g.StrideB+int64(bj)]
							want += av * bv
						}
						want *= tc.alpha
						if d := got[bi*tc.m*tc.n+i*tc.n+j] - want; math.Abs(float64(d)) > 1e-5 {
							t.Fatalf("batch %d C[%d,%d] = %v, want %v", bi, i, j, got[bi*tc.m*tc.n+i*tc.n+j], want)
						}
					}
				}
			}
		})
	}
}
