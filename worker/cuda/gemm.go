package cuda

// Gemm is one (strided-batched) matrix product in row-major terms, as the graph sees it:
// for every batch b, C_b = Alpha · op(A_b) · op(B_b) + Beta · C_b, where op(A) is [M, K]
// (stored [K, M] when TransA) and op(B) is [K, N] (stored [N, K] when TransB). LDA, LDB
// and LDC are row strides in elements; Stride* are batch strides in elements (0 shares
// the operand across the batch).
type Gemm struct {
	M, N, K                   int
	TransA, TransB            bool
	A, B, C                   Ref
	LDA, LDB, LDC             int
	StrideA, StrideB, StrideC int64
	Batch                     int
	Alpha, Beta               float32
}

// ColMajor is the same product as cuBLAS (column-major) computes it: the row-major
// C = A·B is the column-major Cᵀ = Bᵀ·Aᵀ, so the operands swap and M and N trade places.
type ColMajor struct {
	TransA, TransB            bool
	M, N, K                   int
	A, B, C                   Ref
	LDA, LDB, LDC             int
	StrideA, StrideB, StrideC int64
	Batch                     int
	Alpha, Beta               float32
}

// ColMajor returns the cuBLAS call computing g.
func (g *Gemm) ColMajor() ColMajor {
	return ColMajor{
		TransA: g.TransB, TransB: g.TransA,
		M: g.N, N: g.M, K: g.K,
		A: g.B, B: g.A, C: g.C,
		LDA: g.LDB, LDB: g.LDA, LDC: g.LDC,
		StrideA: g.StrideB, StrideB: g.StrideA, StrideC: g.StrideC,
		Batch: g.Batch, Alpha: g.Alpha, Beta: g.Beta,
	}
}
