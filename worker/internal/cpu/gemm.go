package cpu

import "fmt"

// Sgemm computes C = alpha·op(A)·op(B) + beta·C on row-major matrices, like BLAS sgemm with
// CblasRowMajor (torch.addmm(C, A, B, beta=beta, alpha=alpha) for the 2-D case), then applies
// the fused epilogue epi (nil for none). op(A) is m x k: A itself (m x k, row stride lda) or,
// with transA, the transpose of a stored k x m matrix; likewise op(B) is k x n. When beta is
// 0, C is not read (NaNs in it do not propagate), as in BLAS.
func (e *Engine) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int, epi *Epilogue) error {
	if err := checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc); err != nil {
		return err
	}
	if err := epi.check(m, n); err != nil {
		return err
	}
	if err := e.lock(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	e.da = denseA{data: a, ld: lda, m: m, trans: transA, alpha: alpha}
	e.db = denseB{data: b, ld: ldb, n: n, trans: transB}
	e.gemmParallel(m, n, k, &e.da, nil, &e.db, nil, beta, c, ldc, epi)
	e.da, e.db = denseA{}, denseB{}
	return nil
}

func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) error {
	if m < 0 || n < 0 || k < 0 {
		return fmt.Errorf("%w: gemm %dx%dx%d", ErrShape, m, n, k)
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if err := checkMatrix("a", a, ar, ac, lda); err != nil {
		return err
	}
	if err := checkMatrix("b", b, br, bc, ldb); err != nil {
		return err
	}
	return checkMatrix("c", c, m, n, ldc)
}

func checkMatrix(name string, x []float32, rows, cols, ld int) error {
	if ld < max(1, cols) {
		return fmt.Errorf("%w: %s has row stride %d < %d columns", ErrShape, name, ld, cols)
	}
	if rows > 0 && cols > 0 && len(x) < (rows-1)*ld+cols {
		return fmt.Errorf("%w: %s holds %d elements, %dx%d with stride %d needs %d", ErrShape, name, len(x), rows, cols, ld, (rows-1)*ld+cols)
	}
	return nil
}

// gemmJob is one GEMM split into a grid of nI x nJ tasks, each an mcBlock-row block of C
// times a run of jPer B panels. A task packs, for each kcBlock-deep step, its own block of A
// (unless A is prepacked) and, when there is a single row block (nI = 1), its own panels of B,
// so that they are written and read while still in the worker's cache. With several row
// blocks the panels would be packed once per block, so B is packed whole, in parallel, first.
type gemmJob struct {
	m, n, k int
	a       panelSource
	aPacked []float32 // whole A packed by packAll, or nil to pack per task
	b       panelSource
	bPacked []float32 // whole B packed by packAll, or nil to pack per task
	c       []float32
	ldc     int
	beta    float32
	epi     *Epilogue
	scratch []workerScratch
	nJ      int
	jPer    int // B panels per task
}

// gemmParallel runs a GEMM on the engine's pool. e.mu must be held. Either a or aPacked and
// either b or bPacked must be set.
func (e *Engine) gemmParallel(m, n, k int, a panelSource, aPacked []float32, b panelSource, bPacked []float32,
	beta float32, c []float32, ldc int, epi *Epilogue) {
	if m == 0 || n == 0 {
		return
	}
	j := &e.gemm
	*j = gemmJob{m: m, n: n, k: k, a: a, aPacked: aPacked, b: b, bPacked: bPacked, c: c, ldc: ldc,
		beta: beta, epi: epi, scratch: e.scratch}
	np := ceilDiv(n, nr)
	nI := ceilDiv(m, mcBlock)
	maxPer := ncPanels
	if bPacked == nil && nI > 1 {
		e.bpack = grow(e.bpack, max(packedSize(n, nr, k), e.reserved.bpack))[:packedSize(n, nr, k)]
		j.bPacked = e.bpack
		e.bJob = packJob{src: b, dst: e.bpack, extent: n, k: k}
		e.pool.run(np*ceilDiv(k, kcBlock), &e.bJob)
		e.bJob = packJob{}
		maxPer = ncPanelsPrepacked
	}
	// Split the columns into runs of B panels: at most maxPer, and small enough to give
	// about 8 tasks per thread for load balance, but (when A is packed per task) at least 4
	// panels so that packing A stays cheap next to the products.
	j.jPer = min(maxPer, np)
	serial := 2*m*n*k < serialFlops
	if t := e.pool.threads; t > 1 && !serial {
		floor := 4
		if aPacked != nil {
			floor = 1
		}
		j.jPer = min(j.jPer, max(floor, ceilDiv(np*nI, 8*t)))
	}
	j.nJ = ceilDiv(np, j.jPer)
	if serial {
		for t := range nI * j.nJ {
			j.do(0, t)
		}
	} else {
		e.pool.run(nI*j.nJ, j)
	}
	*j = gemmJob{}
}

// serialFlops is the size below which a GEMM runs on the calling goroutine alone: waking the
// other workers costs more than they would save.
const serialFlops = 1 << 20

// gemmSerial runs a GEMM on the calling worker w alone, with its own scratch. Either a or
// aPacked must be set. B is packed whole into the worker's scratch, first, when its panels
// would otherwise be packed once per row block or when A is packed per task (so that each
// block of A is packed once); otherwise each task packs its own panels, which stay in cache.
func gemmSerial(s []workerScratch, w, m, n, k int, a panelSource, aPacked []float32, b panelSource,
	beta float32, c []float32, ldc int, epi *Epilogue) {
	if m == 0 || n == 0 {
		return
	}
	np, nI := ceilDiv(n, nr), ceilDiv(m, mcBlock)
	j := gemmJob{m: m, n: n, k: k, a: a, aPacked: aPacked, b: b, c: c, ldc: ldc, beta: beta, epi: epi,
		scratch: s, jPer: min(ncPanels, np)}
	if nI > 1 || aPacked == nil {
		s[w].bpack = grow(s[w].bpack, packedSize(n, nr, k))
		packAll(s[w].bpack, b, n, nr, k)
		j.bPacked, j.jPer = s[w].bpack, np
	}
	j.nJ = ceilDiv(np, j.jPer)
	for t := range nI * j.nJ {
		j.do(w, t)
	}
}

func (j *gemmJob) do(w, t int) {
	i0 := t / j.nJ * mcBlock
	mc := min(mcBlock, j.m-i0)
	jp0 := t % j.nJ * j.jPer
	np := ceilDiv(j.n, nr)
	jp1 := min(np, jp0+j.jPer)
	c0, c1 := jp0*nr, min(j.n, jp1*nr)
	if j.k == 0 || (j.beta != 0 && j.beta != 1) {
		for i := i0; i < i0+mc; i++ {
			row := j.c[i*j.ldc+c0 : i*j.ldc+c1]
			for x := range row {
				if j.beta == 0 {
					row[x] = 0
				} else {
					row[x] *= j.beta
				}
			}
		}
	}
	mp := ceilDiv(j.m, mr)
	ip0, ipn := i0/mr, ceilDiv(mc, mr)
	s := &j.scratch[w]
	for k0 := 0; k0 < j.k; k0 += kcBlock {
		kc := min(kcBlock, j.k-k0)
		var ap []float32
		if j.aPacked != nil {
			ap = j.aPacked[k0*mp*mr+ip0*kc*mr:]
		} else {
			s.apack = grow(s.apack, mcBlock*kcBlock)
			for ip := range ipn {
				j.a.pack(s.apack[ip*kc*mr:], k0, kc, i0+ip*mr)
			}
			ap = s.apack
		}
		bBase, bOff := j.bPacked, k0*np*nr
		if bBase == nil {
			s.bblock = grow(s.bblock, ncPanels*nr*kcBlock)
			for jp := jp0; jp < jp1; jp++ {
				j.b.pack(s.bblock[(jp-jp0)*kc*nr:], k0, kc, jp*nr)
			}
			bBase, bOff = s.bblock, -jp0*kc*nr
		}
		accumulate := k0 > 0 || j.beta != 0
		last := k0+kc >= j.k
		// A block whose last micro-panel holds a single row (a batch of one, or m mod 6 = 1)
		// computes that row with the one-row kernels, after the full ones.
		full := ipn
		if mc%mr == 1 {
			full--
		}
		for jp := jp0; jp < jp1; jp++ {
			bp := bBase[bOff+jp*kc*nr:]
			col := jp * nr
			cols := min(nr, j.n-col)
			for ip := range full {
				row := i0 + ip*mr
				rows := min(mr, j.m-row)
				a := ap[ip*kc*mr:]
				if rows == mr && cols == nr {
					microKernel(kc, a, bp, j.c[row*j.ldc+col:], j.ldc, accumulate)
				} else {
					microKernel(kc, a, bp, s.tile[:], nr, false)
					j.storeTile(s.tile[:], row, rows, col, cols, accumulate)
				}
				if last && !j.epi.empty() {
					j.epi.apply(j.c, j.ldc, j.n, row, rows, col, cols)
				}
			}
		}
		if full < ipn {
			st := kStep{a: ap[full*kc*mr:], b: bBase[bOff+jp0*kc*nr:], kc: kc, accumulate: accumulate, last: last}
			j.lastRow(&st, i0+full*mr, jp0, jp1, s)
		}
	}
	if j.k == 0 && !j.epi.empty() {
		for col := c0; col < c1; col += nr {
			j.epi.apply(j.c, j.ldc, j.n, i0, mc, col, min(nr, c1-col))
		}
	}
}

// kStep is one kc-deep step of a task for lastRow: the packed A micro-panel of the row, the
// task's packed B panels (the first at b, then every kc·nr floats), and whether C
// accumulates and the step is the last.
type kStep struct {
	a, b             []float32
	kc               int
	accumulate, last bool
}

// lastRow computes row row of C for the B panels jp0..jp1 of step st, rowPanels panels at a
// time where it can. Each element is the chain the 6-row micro-kernel computes, so a row's
// result does not depend on the rows around it.
func (j *gemmJob) lastRow(st *kStep, row, jp0, jp1 int, s *workerScratch) {
	kc := st.kc
	for jp := jp0; jp < jp1; {
		col := jp * nr
		bp := st.b[(jp-jp0)*kc*nr:]
		cols := min(nr, j.n-col)
		switch {
		case jp+rowPanels <= jp1 && col+rowPanels*nr <= j.n:
			cols = rowPanels * nr
			rowKernel4(kc, st.a, bp, kc*nr, j.c[row*j.ldc+col:], st.accumulate)
		case cols == nr:
			rowKernel(kc, st.a, bp, j.c[row*j.ldc+col:], st.accumulate)
		default:
			rowKernel(kc, st.a, bp, s.tile[:], false)
			j.storeTile(s.tile[:], row, 1, col, cols, st.accumulate)
		}
		if st.last && !j.epi.empty() {
			// Whole tiles have no scalar tail (the epilogue is element-wise), and a partial
			// tile is applied alone, as for the other rows.
			j.epi.apply(j.c, j.ldc, j.n, row, 1, col, cols)
		}
		jp += ceilDiv(cols, nr)
	}
}

// storeTile stores (or adds, with accumulate) the top-left rows x cols of an mr x nr tile
// computed into scratch to C at (row, col).
func (j *gemmJob) storeTile(tile []float32, row, rows, col, cols int, accumulate bool) {
	for r := range rows {
		dst := j.c[(row+r)*j.ldc+col : (row+r)*j.ldc+col+cols]
		src := tile[r*nr : r*nr+cols]
		if accumulate {
			for x, v := range src {
				dst[x] += v
			}
		} else {
			copy(dst, src)
		}
	}
}
