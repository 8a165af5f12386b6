package cpu

import "fmt"

// scratchSizes are sizes, in floats, of the engine's shared scratch buffers.
type scratchSizes struct {
	bpack, padded, grid int
}

// ReserveConv2d records the scratch that Conv2d needs for an input of shape x with these
// weights and parameters. The buffers are not allocated here: the first kernel call that
// finds one too small allocates it at the largest size reserved so far. Reserving every
// convolution of a model before running it makes the first run allocate each buffer once
// instead of growing it layer by layer (each regrowth leaves garbage that the collector may
// not reclaim before the process's memory peaks).
func (e *Engine) ReserveConv2d(x []int, w *ConvWeights, p Conv2dParams) error {
	p = p.withDefaults()
	if len(x) != 4 || x[1] != w.InPerGroup*w.Groups {
		return fmt.Errorf("%w: conv2d input %v for weight [%d, %d, %d, %d] with %d groups", ErrShape, x, w.Out, w.InPerGroup, w.KH, w.KW, w.Groups)
	}
	oh, ow, err := w.OutputSize(x[2], x[3], p)
	if err != nil || w.depthwise() {
		return err
	}
	if err := e.lock(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	geo := convGeom{c: x[1], h: x[2], w: x[3], oh: oh, ow: ow, kh: w.KH, kw: w.KW, p: p}
	ocg, cg := w.Out/w.Groups, w.InPerGroup
	run := convRun{w: w, geo: geo}
	_, run.sb, run.shift = convPath(w, &geo)
	sb := &run.sb
	n := oh * ow
	r := &e.reserved
	if k := imagesPerGEMM(w, x[0], run.columns()); k > 1 {
		n = k * run.columns()
		r.grid = max(r.grid, ocg*n)
		if run.shift {
			r.padded = max(r.padded, k*sb.size(cg))
		}
	} else if run.shift {
		n = gridRows(ocg, oh, sb.wq) * sb.wq
		r.padded = max(r.padded, sb.size(cg))
		r.grid = max(r.grid, ocg*n)
	}
	if ceilDiv(ocg, mcBlock) > 1 {
		r.bpack = max(r.bpack, packedSize(n, nr, cg*w.KH*w.KW))
	}
	return nil
}

// convPath chooses how Conv2d runs a non-depthwise convolution: pointwise (1x1, stride 1,
// no padding: the image is B as it is), shifted (on stride-phase images, sb) or, when
// neither, im2col.
func convPath(w *ConvWeights, g *convGeom) (pointwise bool, sb shiftB, shift bool) {
	p := &g.p
	pointwise = w.KH == 1 && w.KW == 1 && p.StrideH == 1 && p.StrideW == 1 && p.PadH == 0 && p.PadW == 0
	sb, shift = newShiftB(g)
	return pointwise, sb, shift && !pointwise
}
