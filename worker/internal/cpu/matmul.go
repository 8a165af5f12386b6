package cpu

import (
	"fmt"

	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// Bmm computes torch.bmm(a, b): a [B, m, k] times b [B, k, n] into dst [B, m, n].
func (e *Engine) Bmm(dst, a, b *tensor.Tensor) error {
	if a.Rank() != 3 || b.Rank() != 3 || a.Shape[0] != b.Shape[0] {
		return fmt.Errorf("%w: bmm %v and %v", ErrShape, a.Shape, b.Shape)
	}
	return e.Matmul(dst, a, b)
}

// Matmul computes torch.matmul(a, b): a dot product for two vectors, a matrix-vector or
// vector-matrix product when one side is 1-D (the vector gets a temporary size-1 dimension
// that is dropped from the result), and otherwise a batched matrix product whose batch
// dimensions (all but the last two) broadcast. dst must have the result's shape.
func (e *Engine) Matmul(dst, a, b *tensor.Tensor) error {
	if a.Rank() == 0 || b.Rank() == 0 || a.Validate() != nil || b.Validate() != nil {
		return fmt.Errorf("%w: matmul %v and %v", ErrShape, a.Shape, b.Shape)
	}
	var vecA, vecB [2]int
	as, bs := a.Shape, b.Shape
	if len(as) == 1 {
		vecA = [2]int{1, as[0]}
		as = vecA[:]
	}
	if len(bs) == 1 {
		vecB = [2]int{bs[0], 1}
		bs = vecB[:]
	}
	m, k, k2, n := as[len(as)-2], as[len(as)-1], bs[len(bs)-2], bs[len(bs)-1]
	if k != k2 {
		return fmt.Errorf("%w: matmul %v and %v", ErrShape, a.Shape, b.Shape)
	}
	if err := e.lock(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	j := &e.bmm
	*j = bmmJob{m: m, n: n, k: k, a: a.Data, b: b.Data, c: dst.Data, scratch: e.scratch}
	batch, err := tensor.AppendBroadcastShape(j.buf[:0:maxDims], as[:len(as)-2], bs[:len(bs)-2])
	if err != nil {
		return fmt.Errorf("%w: matmul %v and %v: %w", ErrShape, a.Shape, b.Shape, err)
	}
	var wantBuf [maxDims + 2]int
	want := append(wantBuf[:0], batch...)
	if a.Rank() > 1 {
		want = append(want, m)
	}
	if b.Rank() > 1 {
		want = append(want, n)
	}
	if err := checkDst(dst, want); err != nil {
		return err
	}
	j.batch = batch
	j.sa, _ = tensor.AppendBroadcastStrides(j.buf[maxDims:maxDims:2*maxDims], as[:len(as)-2], batch)
	j.sb, _ = tensor.AppendBroadcastStrides(j.buf[2*maxDims:2*maxDims:3*maxDims], bs[:len(bs)-2], batch)
	nb := tensor.Numel(batch)
	if allZero(j.sb) && len(as) > 2 && !allZero(j.sa) && tensor.EqualShapes(as[:len(as)-2], batch) {
		// b is shared by every batch and a's matrices follow each other: one tall GEMM.
		m, nb = m*nb, 1
		j.m = m
	}
	if nb >= e.pool.threads || m*n*k < 1<<15 {
		e.pool.run(nb, j)
	} else {
		for t := range nb {
			ao, bo := j.offsets(t)
			e.da = denseA{data: a.Data[ao:], ld: max(k, 1), m: m, alpha: 1}
			e.db = denseB{data: b.Data[bo:], ld: max(n, 1), n: n}
			e.gemmParallel(m, n, k, &e.da, nil, &e.db, nil, 0, dst.Data[t*m*n:], max(n, 1), nil)
		}
		e.da, e.db = denseA{}, denseB{}
	}
	*j = bmmJob{}
	return nil
}

// bmmJob runs one matrix product per task, each on a single worker.
type bmmJob struct {
	m, n, k int
	a, b, c []float32
	batch   []int
	sa, sb  []int // batch strides in matrices
	scratch []workerScratch
	buf     [3 * maxDims]int // storage for batch, sa and sb
}

// offsets returns the element offsets of batch t's matrices in a and b.
func (j *bmmJob) offsets(t int) (int, int) {
	ao, bo := 0, 0
	for d := len(j.batch) - 1; d >= 0; d-- {
		i := t % j.batch[d]
		t /= j.batch[d]
		ao += i * j.sa[d]
		bo += i * j.sb[d]
	}
	return ao * j.m * j.k, bo * j.k * j.n
}

func (j *bmmJob) do(w, t int) {
	ao, bo := j.offsets(t)
	s := &j.scratch[w]
	s.da = denseA{data: j.a[ao:], ld: max(j.k, 1), m: j.m, alpha: 1}
	s.db = denseB{data: j.b[bo:], ld: max(j.n, 1), n: j.n}
	gemmSerial(j.scratch, w, j.m, j.n, j.k, &s.da, nil, &s.db, 0, j.c[t*j.m*j.n:], max(j.n, 1), nil)
}

func allZero(s []int) bool {
	for _, v := range s {
		if v != 0 {
			return false
		}
	}
	return true
}
