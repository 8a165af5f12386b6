package cpu

// The shifted-image formulation of a convolution. The zero-padded input is split once into
// sh·sw phase images (phase (a, b) holds padded pixels (y·sh + a, x·sw + b)) of hq x wq; the
// convolution is then computed on an oh x wq grid, on which the im2col row of tap (c, ki, kj)
// is phase ((ki·dilH) mod sh, (kj·dilW) mod sw) of channel c, shifted by ⌊ki·dilH/sh⌋ rows and
// ⌊kj·dilW/sw⌋ columns: a contiguous run. Packing a B panel becomes one 16-float block copy
// per row, with no bounds checks, and the weights keep their (c, ki, kj) order. The wq − ow
// extra columns of each output row are computed and dropped when the result is copied out
// with the epilogue. For stride 1 there is a single phase: the padded image itself.

// shiftWaste is the largest fraction (in percent) of extra grid columns for which the shifted
// formulation is used instead of gathering im2col panels; ResNet-18's 56, 28 and 14 planes
// (2–14%) take it, its 7x7 planes (29%) do not.
const shiftWaste = 15

// shiftB is the B operand of the shifted formulation.
type shiftB struct {
	phases     []float32 // c·sh·sw phase images of hq x wq, then slack
	hq, wq     int
	sh, sw     int
	kh, kw     int
	dilH, dilW int
	n          int // the grid columns a GEMM reads: rows·wq
	col0       int // the grid column of B's column 0 (row y0·wq of a band of rows)
}

// gridChunk bounds, in floats, the grid a shifted convolution computes at once: larger grids
// are computed in bands of output rows, which keeps the scratch (grid and, for tall weights,
// B packed whole) small and the band in cache while it is copied out.
const gridChunk = 1 << 17

// gridRows returns the output rows of one band for oc output channels, oh output rows and
// wq grid columns per row.
func gridRows(oc, oh, wq int) int {
	return max(1, min(oh, gridChunk/max(oc*wq, 1)))
}

// newShiftB sizes the shifted operand for geometry g (c input channels) and reports whether
// its grid wastes little enough to be used.
func newShiftB(g *convGeom) (shiftB, bool) {
	p := &g.p
	hp, wp := g.h+2*p.PadH, g.w+2*p.PadW
	s := shiftB{hq: ceilDiv(hp, p.StrideH), wq: ceilDiv(wp, p.StrideW), sh: p.StrideH, sw: p.StrideW,
		kh: g.kh, kw: g.kw, dilH: p.DilationH, dilW: p.DilationW}
	s.n = g.oh * s.wq
	return s, (s.wq-g.ow)*100 <= shiftWaste*g.ow
}

// size returns the number of floats the phase images and their slack take for c channels.
func (s *shiftB) size(c int) int {
	return c*s.sh*s.sw*s.hq*s.wq + s.wq + nr + s.kw*s.dilW
}

// fill writes the phase images of the c planes of g.h x g.w in x into buf (of s.size(c)).
func (s *shiftB) fill(buf, x []float32, c int, g *convGeom) {
	ph, pw := g.p.PadH, g.p.PadW
	plane := s.hq * s.wq
	for ch := range c {
		in := x[ch*g.h*g.w : (ch+1)*g.h*g.w]
		for a := range s.sh {
			for b := range s.sw {
				out := buf[((ch*s.sh+a)*s.sw+b)*plane:][:plane]
				for y := range s.hq {
					row := out[y*s.wq : (y+1)*s.wq]
					iy := y*s.sh + a - ph
					if uint(iy) >= uint(g.h) {
						clear(row)
						continue
					}
					src := in[iy*g.w : (iy+1)*g.w]
					if s.sw == 1 {
						lo, hi := min(pw, s.wq), min(pw+g.w, s.wq)
						clear(row[:lo])
						copy(row[lo:hi], src)
						clear(row[hi:])
						continue
					}
					for xq := range row {
						if ix := xq*s.sw + b - pw; uint(ix) < uint(g.w) {
							row[xq] = src[ix]
						} else {
							row[xq] = 0
						}
					}
				}
			}
		}
	}
	clear(buf[c*s.sh*s.sw*plane:])
}

func (s *shiftB) pack(dst []float32, k0, kc, j0 int) {
	cols := min(nr, s.n-j0)
	khw := s.kh * s.kw
	ch, rem := k0/khw, k0%khw
	ki, kj := rem/s.kw, rem%s.kw
	plane := s.hq * s.wq
	for p := range kc {
		out := dst[p*nr : p*nr+nr]
		ty, tx := ki*s.dilH, kj*s.dilW
		off := ((ch*s.sh+ty%s.sh)*s.sw+tx%s.sw)*plane + ty/s.sh*s.wq + tx/s.sw + s.col0 + j0
		if cols == nr {
			*(*[nr]float32)(out) = *(*[nr]float32)(s.phases[off : off+nr])
		} else {
			copy(out, s.phases[off:off+cols])
			clear(out[cols:])
		}
		if kj++; kj == s.kw {
			kj = 0
			if ki++; ki == s.kh {
				ki = 0
				ch++
			}
		}
	}
}

// copyOutJob copies the valid columns of an oc x (rows·wq) grid result into rows y0 to
// y0+rows of the output planes, applying the epilogue, one output channel per task.
type copyOutJob struct {
	grid       []float32
	out        []float32 // the first of the group's output planes
	oh, ow, wq int
	y0, rows   int
	epi        *Epilogue // bias and residual already offset to the group and image
}

func (j *copyOutJob) do(_, t int) {
	plane := j.oh * j.ow
	dst := j.out[t*plane : (t+1)*plane]
	var bias *float32
	var res []float32
	act := ActNone
	if j.epi != nil {
		if j.epi.Bias != nil {
			bias = &j.epi.Bias[t]
		}
		if j.epi.Residual != nil {
			res = j.epi.Residual[t*plane : (t+1)*plane]
		}
		act = j.epi.Act
	}
	for y := j.y0; y < j.y0+j.rows; y++ {
		var r []float32
		if res != nil {
			r = res[y*j.ow : (y+1)*j.ow]
		}
		src := j.grid[(t*j.rows+y-j.y0)*j.wq:]
		fuseRow(dst[y*j.ow:(y+1)*j.ow], src[:j.ow], nil, bias, r, act)
	}
}
