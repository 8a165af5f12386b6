package cpu

// Cache-block sizes of the GEMM (in elements). A packed A block (mcBlock x kcBlock, 144 KiB)
// and the B panels a task packs itself (kcBlock x ncPanels·nr, 384 KiB) stay in L2, a packed
// B micro-panel (kcBlock x nr) in L1. Tasks that read a B packed beforehand cover up to
// ncPanelsPrepacked panels.
const (
	kcBlock           = 256
	mcBlock           = 144
	ncPanels          = 24
	ncPanelsPrepacked = 64
)

// panelSource packs micro-panels of one GEMM operand. For A, pack writes rows x0..x0+mr of
// A's columns k0..k0+kc as kc groups of mr floats; for B, columns x0..x0+nr of B's rows
// k0..k0+kc as kc groups of nr floats. Entries past the matrix edge are zero.
type panelSource interface {
	pack(dst []float32, k0, kc, x0 int)
}

// denseA is a row-major m x k matrix A (or, with trans, the transpose of a stored k x m one),
// scaled by alpha while packing.
type denseA struct {
	data  []float32
	ld, m int
	trans bool
	alpha float32
	// rowScale, when set (only without trans), multiplies row i by rowScale[i] in float64
	// instead of alpha.
	rowScale []float64
}

func (s *denseA) pack(dst []float32, k0, kc, i0 int) {
	dst = dst[:kc*mr]
	rows := min(mr, s.m-i0)
	for r := range mr {
		if r >= rows {
			for p := range kc {
				dst[p*mr+r] = 0
			}
			continue
		}
		i := i0 + r
		if s.trans {
			for p := range kc {
				dst[p*mr+r] = s.alpha * s.data[(k0+p)*s.ld+i]
			}
			continue
		}
		row := s.data[i*s.ld+k0 : i*s.ld+k0+kc]
		switch {
		case s.rowScale != nil:
			sc := s.rowScale[i]
			for p, v := range row {
				dst[p*mr+r] = float32(float64(v) * sc)
			}
		case s.alpha == 1:
			for p, v := range row {
				dst[p*mr+r] = v
			}
		default:
			for p, v := range row {
				dst[p*mr+r] = s.alpha * v
			}
		}
	}
}

// denseB is a row-major k x n matrix B (or, with trans, the transpose of a stored n x k one).
type denseB struct {
	data  []float32
	ld, n int
	trans bool
}

func (s *denseB) pack(dst []float32, k0, kc, j0 int) {
	dst = dst[:kc*nr]
	cols := min(nr, s.n-j0)
	if !s.trans {
		for p := range kc {
			out := dst[p*nr : p*nr+nr]
			src := s.data[(k0+p)*s.ld+j0:]
			copy(out, src[:cols])
			clear(out[cols:])
		}
		return
	}
	for jj := range cols {
		col := s.data[(j0+jj)*s.ld+k0 : (j0+jj)*s.ld+k0+kc]
		for p, v := range col {
			dst[p*nr+jj] = v
		}
	}
	if cols < nr {
		for p := range kc {
			clear(dst[p*nr+cols : p*nr+nr])
		}
	}
}

// packedSize returns the length of a fully packed operand with the given extent along the
// panel direction (m for A, n for B), panel width w and depth k.
func packedSize(extent, w, k int) int { return ceilDiv(extent, w) * w * k }

// packAll packs the whole operand into dst in the layout the GEMM driver reads: for each
// kcBlock-deep block starting at k0, the panels along the extent, each kc x w.
func packAll(dst []float32, src panelSource, extent, w, k int) {
	np := ceilDiv(extent, w)
	for k0 := 0; k0 < k; k0 += kcBlock {
		kc := min(kcBlock, k-k0)
		for p := range np {
			off := k0*np*w + p*kc*w
			src.pack(dst[off:off+kc*w], k0, kc, p*w)
		}
	}
}

// packJob packs a whole operand in parallel, one panel of one kcBlock step per task, in the
// layout of packAll.
type packJob struct {
	src       panelSource
	dst       []float32
	extent, k int
}

func (j *packJob) do(_, t int) {
	np := ceilDiv(j.extent, nr)
	k0 := t / np * kcBlock
	p := t % np
	kc := min(kcBlock, j.k-k0)
	off := k0*np*nr + p*kc*nr
	j.src.pack(j.dst[off:off+kc*nr], k0, kc, p*nr)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
