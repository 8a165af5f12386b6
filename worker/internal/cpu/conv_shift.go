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
	// per and stride, when per is set, lay several images side by side: B's columns
	// [i·per, (i+1)·per) are image i's grid, whose phase images start at phases[i·stride].
	per, stride int
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
	// The panel's columns split into runs, one per image they touch.
	var runOff, runLen [nr]int
	runs := 1
	runOff[0], runLen[0] = s.col0+j0, cols
	if s.per > 0 {
		runs = 0
		for jj := 0; jj < cols; runs++ {
			img, at := (j0+jj)/s.per, (j0+jj)%s.per
			runOff[runs], runLen[runs] = img*s.stride+at, min(cols-jj, s.per-at)
			jj += runLen[runs]
		}
	}
	for p := range kc {
		out := dst[p*nr : p*nr+nr]
		ty, tx := ki*s.dilH, kj*s.dilW
		off := ((ch*s.sh+ty%s.sh)*s.sw+tx%s.sw)*plane + ty/s.sh*s.wq + tx/s.sw
		if runs == 1 && cols == nr {
			off += runOff[0]
			*(*[nr]float32)(out) = *(*[nr]float32)(s.phases[off : off+nr])
		} else {
			o := out
			for r := range runs {
				at := off + runOff[r]
				copy(o, s.phases[at:at+runLen[r]])
				o = o[runLen[r]:]
			}
			clear(o)
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

// copyOutJob copies the valid columns of a grid result (a GEMM's C: one row per output
// channel, ldg columns holding images side by side, per columns each, every output row
// wq columns wide) into output rows y0 to y0+rows of the images' planes, applying the
// epilogue, one (image, channel) plane per task.
type copyOutJob struct {
	grid       []float32
	ldg, per   int
	out        []float32 // the first image's first output plane of the group
	res        []float32 // the residual, aligned with out; nil for none
	bias       []float32 // one per output channel of the group; nil for none
	act        Activation
	channels   int // output channels per image in the grid
	imgStride  int // floats from one image's output planes to the next's
	oh, ow, wq int
	y0, rows   int
}

// epilogue sets the job's bias, residual and activation from the convolution's epilogue
// epi (nil for none): the bias from output channel ch0 on, the residual from element off.
func (j *copyOutJob) epilogue(epi *Epilogue, ch0, off int) {
	if epi == nil {
		return
	}
	if epi.Bias != nil {
		j.bias = epi.Bias[ch0:]
	}
	if epi.Residual != nil {
		j.res = epi.Residual[off:]
	}
	j.act = epi.Act
}

func (j *copyOutJob) do(_, t int) {
	img, ch := t/j.channels, t%j.channels
	plane := j.oh * j.ow
	o := img*j.imgStride + ch*plane
	dst := j.out[o : o+plane]
	var bias *float32
	var res []float32
	if j.bias != nil {
		bias = &j.bias[ch]
	}
	if j.res != nil {
		res = j.res[o : o+plane]
	}
	for y := j.y0; y < j.y0+j.rows; y++ {
		var r []float32
		if res != nil {
			r = res[y*j.ow : (y+1)*j.ow]
		}
		src := j.grid[ch*j.ldg+img*j.per+(y-j.y0)*j.wq:]
		fuseRow(dst[y*j.ow:(y+1)*j.ow], src[:j.ow], nil, bias, r, j.act)
	}
}
