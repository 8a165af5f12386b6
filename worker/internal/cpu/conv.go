package cpu

import (
	"fmt"

	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// Conv2dParams are the stride, padding and dilation of torch.nn.functional.conv2d (the groups
// come with the packed weights). Zero values mean PyTorch's defaults: stride 1, padding 0,
// dilation 1.
type Conv2dParams struct {
	StrideH, StrideW     int
	PadH, PadW           int
	DilationH, DilationW int
}

// withDefaults returns p with zero strides and dilations replaced by 1.
func (p Conv2dParams) withDefaults() Conv2dParams {
	p.StrideH, p.StrideW = orOne(p.StrideH), orOne(p.StrideW)
	p.DilationH, p.DilationW = orOne(p.DilationH), orOne(p.DilationW)
	return p
}

func orOne(v int) int {
	if v == 0 {
		return 1
	}
	return v
}

// ConvWeights is a convolution weight [out, in/groups, kh, kw] packed once, at load time, for
// the GEMM (one packed block per group). It is read-only and may be shared.
type ConvWeights struct {
	// Out is the number of output channels, InPerGroup the input channels of one group,
	// KH x KW the kernel size and Groups the number of groups.
	Out, InPerGroup, KH, KW, Groups int
	raw                             []float32 // a depthwise weight, scaled when asked
	packed                          []float32 // per group, A panels in packAll's layout
}

// PackConv2d packs a torch.nn.Conv2d weight of shape [out, in/groups, kh, kw]; groups 0 means
// 1. scale, when not nil, has one factor per output channel that multiplies its weights as
// they are packed (a BatchNorm folded by [FoldBatchNorm]); w itself is never written. An
// unscaled depthwise weight (one input and one output channel per group) is not copied: the
// result refers to w's data, which must then stay unchanged. Otherwise the result keeps no
// reference to w.
func PackConv2d(w *tensor.Tensor, groups int, scale []float64) (*ConvWeights, error) {
	if groups == 0 {
		groups = 1
	}
	if w.Rank() != 4 || w.Validate() != nil || groups < 0 || w.Shape[0]%groups != 0 {
		return nil, fmt.Errorf("%w: conv weight %v with %d groups", ErrShape, w.Shape, groups)
	}
	if scale != nil && len(scale) != w.Shape[0] {
		return nil, fmt.Errorf("%w: %d scales for conv weight %v", ErrShape, len(scale), w.Shape)
	}
	cw := &ConvWeights{Out: w.Shape[0], InPerGroup: w.Shape[1], KH: w.Shape[2], KW: w.Shape[3], Groups: groups}
	ocg, k := cw.Out/groups, cw.InPerGroup*cw.KH*cw.KW
	switch {
	case cw.depthwise() && scale == nil:
		cw.raw = w.Data
	case cw.depthwise():
		cw.raw = make([]float32, len(w.Data))
		for i, v := range w.Data {
			cw.raw[i] = float32(float64(v) * scale[i/max(k, 1)])
		}
	default:
		size := packedSize(ocg, mr, k)
		cw.packed = make([]float32, size*groups)
		for g := range groups {
			a := &denseA{data: w.Data[g*ocg*k:], ld: max(k, 1), m: ocg, alpha: 1}
			if scale != nil {
				a.rowScale = scale[g*ocg:]
			}
			packAll(cw.packed[g*size:], a, ocg, mr, k)
		}
	}
	return cw, nil
}

// depthwise reports whether every group has one input and one output channel, which runs a
// direct kernel instead of the GEMM.
func (cw *ConvWeights) depthwise() bool { return cw.InPerGroup == 1 && cw.Out == cw.Groups }

// OutputSize returns the output height and width of the convolution on an h x w input, or an
// error for invalid parameters (negative padding, non-positive stride or dilation) or an
// input smaller than the dilated kernel.
func (cw *ConvWeights) OutputSize(h, w int, p Conv2dParams) (int, int, error) {
	p = p.withDefaults()
	if p.StrideH < 0 || p.StrideW < 0 || p.DilationH < 0 || p.DilationW < 0 || p.PadH < 0 || p.PadW < 0 {
		return 0, 0, fmt.Errorf("%w: conv2d parameters %+v", ErrArgument, p)
	}
	oh := convOutSize(h, cw.KH, p.StrideH, p.PadH, p.DilationH)
	ow := convOutSize(w, cw.KW, p.StrideW, p.PadW, p.DilationW)
	if oh <= 0 || ow <= 0 {
		return 0, 0, fmt.Errorf("%w: conv2d output %dx%d for a %dx%d input", ErrShape, oh, ow, h, w)
	}
	return oh, ow, nil
}

// convOutSize is PyTorch's output size for a convolution or pooling window.
func convOutSize(in, k, stride, pad, dil int) int {
	return (in+2*pad-dil*(k-1)-1)/stride + 1
}

// Conv2d computes torch.nn.functional.conv2d(x, weight, stride, padding, dilation, groups)
// for x [N, C, H, W] into dst [N, out, OH, OW], OH = ⌊(H + 2·pad − dil·(kh − 1) − 1)/stride⌋ + 1,
// followed by the epilogue: Bias (BiasPerRow, one per output channel), Residual (dst's
// shape, ResidualStride 0) and Act. Groups come from the packed weights. A general
// convolution runs as one GEMM per image and group whose B panels are gathered from the image
// as they are packed (im2col without the column buffer; 1x1 stride-1 convolutions read the
// image directly); small images of a convolution without groups share one GEMM, several
// side by side (see imagesPerGEMM); depthwise convolutions run a direct kernel. With several
// threads, a batch of two images or more is shared out among them by whole images (or groups
// of images sharing a GEMM), each run single-threaded. An image's result does not depend on
// the others in the batch nor on the thread count, to the bit.
func (e *Engine) Conv2d(dst, x *tensor.Tensor, w *ConvWeights, p Conv2dParams, epi *Epilogue) error {
	p = p.withDefaults()
	if x.Rank() != 4 || x.Validate() != nil || x.Shape[1] != w.InPerGroup*w.Groups {
		return fmt.Errorf("%w: conv2d input %v for weight [%d, %d, %d, %d] with %d groups", ErrShape, x.Shape, w.Out, w.InPerGroup, w.KH, w.KW, w.Groups)
	}
	n, c, h, wd := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	oh, ow, err := w.OutputSize(h, wd, p)
	if err != nil {
		return err
	}
	want := [4]int{n, w.Out, oh, ow}
	if err := checkDst(dst, want[:]); err != nil {
		return err
	}
	if err := checkConvEpilogue(epi, w.Out, len(dst.Data)); err != nil {
		return err
	}
	if err := e.lock(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	geo := convGeom{c: c, h: h, w: wd, oh: oh, ow: ow, kh: w.KH, kw: w.KW, p: p}
	if w.depthwise() {
		j := &e.dw
		*j = depthwiseJob{x: x.Data, y: dst.Data, w: w.raw, g: geo, epi: epi}
		e.pool.run(n*c, j)
		*j = depthwiseJob{}
		return nil
	}
	j := &e.conv
	*j = convJob{e: e, r: convRun{dst: dst, x: x, w: w, geo: geo, epi: epi}, n: n}
	r := &j.r
	r.pointwise, r.sb, r.shift = convPath(w, &geo)
	j.step = imagesPerGEMM(w, n, r.columns())
	units := ceilDiv(n, j.step)
	if t := e.pool.threads; t > 1 && n > 1 {
		// Whole units per worker, each run alone: no synchronisation inside them. Images that
		// would share one GEMM are split into at least one unit per thread, and the units
		// left over once every thread has had as many run on the whole pool.
		j.step = min(j.step, max(1, n/t))
		units = ceilDiv(n, j.step)
		if alone := units - units%t; alone > 0 {
			for i := range e.scratch {
				// B packed whole by a worker alone takes what ReserveConv2d asked for.
				e.scratch[i].bpack = grow(e.scratch[i].bpack, e.reserved.bpack)
			}
			j.alone = true
			e.pool.run(alone, j)
			j.alone = false
			j.first = alone
			units -= alone
		}
	}
	for u := range units {
		j.do(0, u)
	}
	for i := range e.scratch {
		s := &e.scratch[i].conv
		s.db, s.im2col, s.shift, s.copyOut, s.cepi = denseB{}, im2colB{}, shiftB{}, copyOutJob{}, Epilogue{}
	}
	*j = convJob{}
	return nil
}

// convRun is one Conv2d call: its operands and the path chosen for it.
type convRun struct {
	dst, x    *tensor.Tensor
	w         *ConvWeights
	geo       convGeom
	epi       *Epilogue
	pointwise bool
	sb        shiftB
	shift     bool
}

// columns returns the GEMM columns one image takes: its output positions, or its grid of
// oh x wq on the shifted path.
func (r *convRun) columns() int {
	if r.shift {
		return r.sb.n
	}
	return r.geo.oh * r.geo.ow
}

// convJob runs the n images of a Conv2d call in units of step images (the last may be
// short): one GEMM per image and group when step is 1, else one per unit. Task t runs unit
// first+t; with alone, on its worker only, else on the whole pool (from worker 0).
type convJob struct {
	e              *Engine
	r              convRun
	n, step, first int
	alone          bool
}

func (j *convJob) do(w, t int) {
	i0 := (j.first + t) * j.step
	if k := min(j.step, j.n-i0); k > 1 {
		j.e.convImages(&j.r, w, j.alone, i0, k)
		return
	}
	for g := range j.r.w.Groups {
		j.e.convImage(&j.r, w, j.alone, i0, g)
	}
}

// convScratch holds the B operand of one convolution GEMM and the buffers around it.
type convScratch struct {
	db      denseB
	im2col  im2colB
	shift   shiftB
	cepi    Epilogue // the epilogue for one image and group
	copyOut copyOutJob
	padded  []float32 // phase images
	grid    []float32 // the result on the phase grid
}

// convGemm runs a convolution GEMM (A prepacked, C overwritten) on worker w alone or on the
// whole pool. e.mu must be held.
func (e *Engine) convGemm(w int, alone bool, m, n, k int, a []float32, b panelSource, c []float32, ldc int, epi *Epilogue) {
	if alone {
		gemmSerial(e.scratch, w, m, n, k, nil, a, b, 0, c, ldc, epi)
		return
	}
	e.gemmParallel(m, n, k, nil, a, b, nil, 0, c, ldc, epi)
}

// convTasks runs tasks 0..n-1 of job on worker w alone or on the whole pool.
func (e *Engine) convTasks(w int, alone bool, n int, job tasker) {
	if !alone {
		e.pool.run(n, job)
		return
	}
	for t := range n {
		job.do(w, t)
	}
}

// Images that take fewer than smallImage GEMM columns share GEMMs, up to about
// imageColumns columns each: the packed weights are then read once per group of images
// rather than once per image, and the threads share out one GEMM instead of one per image.
// Measured on ResNet-18 with two threads, this saves a quarter of the CPU time of its 7x7
// convolutions at batch 8 (512 channels: 49 columns per image), while its 14x14 ones (224
// columns) already run as fast per image as the large planes and became slower batched.
const (
	smallImage   = 128
	imageColumns = 512
)

// imagesPerGEMM returns how many of n images Conv2d runs per GEMM for weights w when one image
// takes columns GEMM columns: 1 (one GEMM per image and group) for grouped convolutions and
// for images of smallImage columns or more.
func imagesPerGEMM(w *ConvWeights, n, columns int) int {
	if w.Groups != 1 || columns >= smallImage {
		return 1
	}
	return min(n, imageColumns/max(columns, 1))
}

// convImage runs group g of image img as its own GEMM, on worker w alone or on the whole
// pool, with worker w's convolution scratch. e.mu must be held.
func (e *Engine) convImage(r *convRun, w int, alone bool, img, g int) {
	cw, geo, epi := r.w, &r.geo, r.epi
	s := &e.scratch[w].conv
	c, h, wd, oh, ow := geo.c, geo.h, geo.w, geo.oh, geo.ow
	ocg, cg := cw.Out/cw.Groups, cw.InPerGroup
	k := cg * cw.KH * cw.KW
	plane := oh * ow
	size := packedSize(ocg, mr, k)
	a := cw.packed[g*size : (g+1)*size]
	in := r.x.Data[(img*c+g*cg)*h*wd : (img*c+(g+1)*cg)*h*wd]
	var b panelSource
	switch {
	case r.pointwise:
		s.db = denseB{data: in, ld: plane, n: plane}
		b = &s.db
	case r.shift:
		s.shift = r.sb
		s.padded = grow(s.padded, max(r.sb.size(cg), e.reserved.padded))[:r.sb.size(cg)]
		s.shift.phases = s.padded
		s.shift.fill(s.padded, in, cg, geo)
		b = &s.shift
	default:
		s.im2col = im2colB{x: in, g: *geo}
		b = &s.im2col
	}
	out := r.dst.Data[(img*cw.Out+g*ocg)*plane : (img*cw.Out+(g+1)*ocg)*plane]
	if !r.shift {
		var sub *Epilogue
		if !epi.empty() {
			s.cepi = Epilogue{BiasAxis: BiasPerRow, Act: epi.Act}
			if epi.Bias != nil {
				s.cepi.Bias = epi.Bias[g*ocg : (g+1)*ocg]
			}
			if epi.Residual != nil {
				s.cepi.Residual = epi.Residual[(img*cw.Out+g*ocg)*plane:]
			}
			sub = &s.cepi
		}
		e.convGemm(w, alone, ocg, plane, k, a, b, out, plane, sub)
		return
	}
	rows := gridRows(ocg, oh, r.sb.wq)
	for y0 := 0; y0 < oh; y0 += rows {
		ry := min(rows, oh-y0)
		cols := ry * r.sb.wq
		s.shift.col0, s.shift.n = y0*r.sb.wq, cols
		s.grid = grow(s.grid, max(ocg*cols, e.reserved.grid))[:ocg*cols]
		e.convGemm(w, alone, ocg, cols, k, a, b, s.grid, cols, nil)
		s.copyOut = copyOutJob{grid: s.grid, ldg: cols, out: out, channels: ocg, oh: oh, ow: ow, wq: r.sb.wq, y0: y0, rows: ry}
		s.copyOut.epilogue(epi, g*ocg, (img*cw.Out+g*ocg)*plane)
		e.convTasks(w, alone, ocg, &s.copyOut)
	}
}

// convImages runs images i0 to i0+k (of a convolution without groups) as one GEMM whose B
// holds their columns side by side, into a grid copied out with the epilogue, on worker w
// alone or on the whole pool, with worker w's convolution scratch. Each output element is
// computed exactly as convImage computes it. e.mu must be held.
func (e *Engine) convImages(r *convRun, w int, alone bool, i0, k int) {
	cw, geo := r.w, &r.geo
	s := &e.scratch[w].conv
	stride, plane := geo.c*geo.h*geo.w, geo.oh*geo.ow
	in := r.x.Data[i0*stride : (i0+k)*stride]
	per, wq := plane, geo.ow
	var b panelSource
	if r.shift {
		size := r.sb.size(geo.c)
		s.padded = grow(s.padded, max(k*size, e.reserved.padded))[:k*size]
		for i := range k {
			r.sb.fill(s.padded[i*size:(i+1)*size], in[i*stride:(i+1)*stride], geo.c, geo)
		}
		per, wq = r.sb.n, r.sb.wq
		s.shift = r.sb
		s.shift.phases, s.shift.per, s.shift.stride, s.shift.n = s.padded, per, size, k*per
		b = &s.shift
	} else {
		s.im2col = im2colB{x: in, g: *geo, per: per, stride: stride, images: k}
		b = &s.im2col
	}
	cols := k * per
	s.grid = grow(s.grid, max(cw.Out*cols, e.reserved.grid))[:cw.Out*cols]
	e.convGemm(w, alone, cw.Out, cols, geo.c*cw.KH*cw.KW, cw.packed, b, s.grid, cols, nil)
	s.copyOut = copyOutJob{grid: s.grid, ldg: cols, per: per, out: r.dst.Data[i0*cw.Out*plane:],
		channels: cw.Out, imgStride: cw.Out * plane, oh: geo.oh, ow: geo.ow, wq: wq, rows: geo.oh}
	s.copyOut.epilogue(r.epi, 0, i0*cw.Out*plane)
	e.convTasks(w, alone, k*cw.Out, &s.copyOut)
}

func checkConvEpilogue(epi *Epilogue, channels, numel int) error {
	if epi == nil {
		return nil
	}
	if !epi.Act.valid() {
		return fmt.Errorf("%w: activation %d", ErrArgument, epi.Act)
	}
	if epi.Bias != nil && len(epi.Bias) != channels {
		return fmt.Errorf("%w: conv bias of %d for %d channels", ErrShape, len(epi.Bias), channels)
	}
	if epi.Residual != nil && (len(epi.Residual) != numel || epi.ResidualStride != 0) {
		return fmt.Errorf("%w: conv residual of %d elements, want %d", ErrShape, len(epi.Residual), numel)
	}
	return nil
}

// convGeom is the geometry of one convolution or pooling window sweep over an image plane.
type convGeom struct {
	c, h, w, oh, ow, kh, kw int
	p                       Conv2dParams
}

// im2colB presents the im2col matrix of one image and group (rows: channel, kernel row,
// kernel column; columns: output positions) as a GEMM B operand, gathered while packing.
// With per set, it holds images side by side: B's columns [i·per, (i+1)·per) are those of
// image i (of images), which starts at x[i·stride].
type im2colB struct {
	x                   []float32
	g                   convGeom
	per, stride, images int
}

func (s *im2colB) pack(dst []float32, k0, kc, j0 int) {
	g := &s.g
	cols := min(nr, g.oh*g.ow-j0)
	if s.per > 0 {
		cols = min(nr, s.images*s.per-j0)
	}
	// The panel's columns split into segments, one per output row (and image) they touch:
	// within a segment the input row is fixed and the input column advances by the stride.
	var segIY, segIX, segOff, segLen, segImg [nr]int
	nseg := 0
	for jj := 0; jj < cols; nseg++ {
		j := j0 + jj
		if s.per > 0 {
			segImg[nseg], j = j/s.per*s.stride, j%s.per
		}
		oy, ox := j/g.ow, j%g.ow
		n := min(cols-jj, g.ow-ox)
		segIY[nseg], segIX[nseg] = oy*g.p.StrideH-g.p.PadH, ox*g.p.StrideW-g.p.PadW
		segOff[nseg], segLen[nseg] = jj, n
		jj += n
	}
	khw := g.kh * g.kw
	ch, rem := k0/khw, k0%khw
	ki, kj := rem/g.kw, rem%g.kw
	hw, st := g.h*g.w, g.p.StrideW
	for p := range kc {
		out := dst[p*nr : p*nr+nr]
		dy, dx := ki*g.p.DilationH, kj*g.p.DilationW
		for sg := range nseg {
			plane := s.x[segImg[sg]+ch*hw : segImg[sg]+(ch+1)*hw]
			o := out[segOff[sg] : segOff[sg]+segLen[sg]]
			iy := segIY[sg] + dy
			if uint(iy) >= uint(g.h) {
				clear(o)
				continue
			}
			row := plane[iy*g.w : (iy+1)*g.w]
			ix := segIX[sg] + dx
			if st == 1 && ix >= 0 && ix+len(o) <= g.w {
				src := row[ix : ix+len(o)]
				for t := range o {
					o[t] = src[t]
				}
				continue
			}
			for t := range o {
				if x := ix + t*st; uint(x) < uint(g.w) {
					o[t] = row[x]
				} else {
					o[t] = 0
				}
			}
		}
		clear(out[cols:])
		if kj++; kj == g.kw {
			kj = 0
			if ki++; ki == g.kh {
				ki = 0
				ch++
			}
		}
	}
}

// depthwiseJob runs a depthwise convolution, one (image, channel) plane per task.
type depthwiseJob struct {
	x, y, w []float32
	g       convGeom
	epi     *Epilogue
}

func (j *depthwiseJob) do(_, t int) {
	g := &j.g
	ch := t % g.c
	in := j.x[t*g.h*g.w : (t+1)*g.h*g.w]
	out := j.y[t*g.oh*g.ow : (t+1)*g.oh*g.ow]
	wk := j.w[ch*g.kh*g.kw : (ch+1)*g.kh*g.kw]
	var bias float32
	if j.epi != nil && j.epi.Bias != nil {
		bias = j.epi.Bias[ch]
	}
	for oy := range g.oh {
		for ox := range g.ow {
			s := bias
			for ki := range g.kh {
				iy := oy*g.p.StrideH - g.p.PadH + ki*g.p.DilationH
				if uint(iy) >= uint(g.h) {
					continue
				}
				for kj := range g.kw {
					ix := ox*g.p.StrideW - g.p.PadW + kj*g.p.DilationW
					if uint(ix) < uint(g.w) {
						s += wk[ki*g.kw+kj] * in[iy*g.w+ix]
					}
				}
			}
			out[oy*g.ow+ox] = s
		}
	}
	if j.epi != nil {
		if j.epi.Residual != nil {
			for i, r := range j.epi.Residual[t*g.oh*g.ow : (t+1)*g.oh*g.ow] {
				out[i] += r
			}
		}
		j.epi.Act.apply(out)
	}
}
