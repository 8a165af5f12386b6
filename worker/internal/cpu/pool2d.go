package cpu

import (
	"fmt"
	"math"

	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// Pool2dParams are the parameters of torch.nn.functional.max_pool2d and avg_pool2d. A zero
// stride means the kernel size (PyTorch's default), a zero dilation 1. Dilation applies to
// max pooling only; CountIncludePad to average pooling only (PyTorch's default is true;
// divisor_override is not supported).
type Pool2dParams struct {
	KernelH, KernelW     int
	StrideH, StrideW     int
	PadH, PadW           int
	DilationH, DilationW int
	CeilMode             bool
	CountIncludePad      bool
}

func (p Pool2dParams) withDefaults() Pool2dParams {
	if p.StrideH == 0 {
		p.StrideH = p.KernelH
	}
	if p.StrideW == 0 {
		p.StrideW = p.KernelW
	}
	if p.DilationH == 0 {
		p.DilationH = 1
	}
	if p.DilationW == 0 {
		p.DilationW = 1
	}
	return p
}

// poolOutSize is PyTorch's pooling_output_shape.
func poolOutSize(in, k, pad, stride, dil int, ceil bool) int {
	num := in + 2*pad - dil*(k-1) - 1
	if ceil {
		num += stride - 1
	}
	out := floorDiv(num, stride) + 1
	if ceil && (out-1)*stride >= in+pad {
		out--
	}
	return out
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Pool2dOutput returns the output height and width of max_pool2d (max true) or avg_pool2d on
// an h x w input, or an error for parameters PyTorch rejects (padding above half the
// effective kernel, empty output).
func Pool2dOutput(h, w int, p Pool2dParams, isMax bool) (int, int, error) {
	p = p.withDefaults()
	if !isMax {
		p.DilationH, p.DilationW = 1, 1
	}
	if p.KernelH <= 0 || p.KernelW <= 0 || p.StrideH <= 0 || p.StrideW <= 0 || p.DilationH <= 0 || p.DilationW <= 0 ||
		p.PadH < 0 || p.PadW < 0 || p.PadH > ((p.KernelH-1)*p.DilationH+1)/2 || p.PadW > ((p.KernelW-1)*p.DilationW+1)/2 {
		return 0, 0, fmt.Errorf("%w: pool2d parameters %+v", ErrArgument, p)
	}
	oh := poolOutSize(h, p.KernelH, p.PadH, p.StrideH, p.DilationH, p.CeilMode)
	ow := poolOutSize(w, p.KernelW, p.PadW, p.StrideW, p.DilationW, p.CeilMode)
	if oh <= 0 || ow <= 0 {
		return 0, 0, fmt.Errorf("%w: pool2d output %dx%d for input %dx%d", ErrShape, oh, ow, h, w)
	}
	return oh, ow, nil
}

// checkPool validates x [N, C, H, W] (or [C, H, W]) and dst, returning the planes and sizes.
func checkPool(dst, x *tensor.Tensor, p Pool2dParams, isMax bool) (planes, h, w, oh, ow int, err error) {
	if err = validate(dst, x); err != nil {
		return
	}
	if x.Rank() != 3 && x.Rank() != 4 {
		err = fmt.Errorf("%w: pool2d input %v", ErrShape, x.Shape)
		return
	}
	r := x.Rank()
	h, w = x.Shape[r-2], x.Shape[r-1]
	if oh, ow, err = Pool2dOutput(h, w, p, isMax); err != nil {
		return
	}
	var buf [4]int
	want := append(append(buf[:0], x.Shape[:r-2]...), oh, ow)
	err = checkDst(dst, want)
	planes = tensor.Numel(x.Shape[:r-2])
	return
}

// MaxPool2d computes torch.nn.functional.max_pool2d(x, kernel, stride, padding, dilation,
// ceil_mode) for x [N, C, H, W] or [C, H, W]: padding counts as −Inf and a NaN in the window
// wins, as in PyTorch. The planes are shared out among the engine's threads.
func (e *Engine) MaxPool2d(dst, x *tensor.Tensor, p Pool2dParams) error {
	planes, h, w, oh, ow, err := checkPool(dst, x, p, true)
	if err != nil {
		return err
	}
	if err := e.lock(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	j := &e.maxPool
	*j = maxPoolJob{x: x.Data, y: dst.Data, h: h, w: w, oh: oh, ow: ow, p: p.withDefaults()}
	e.pool.run(planes, j)
	*j = maxPoolJob{}
	return nil
}

// maxPoolJob runs max pooling, one plane per task.
type maxPoolJob struct {
	x, y         []float32
	h, w, oh, ow int
	p            Pool2dParams
}

func (j *maxPoolJob) do(_, t int) {
	p, h, w, oh, ow := &j.p, j.h, j.w, j.oh, j.ow
	in := j.x[t*h*w : (t+1)*h*w]
	out := j.y[t*oh*ow : (t+1)*oh*ow]
	for oy := range oh {
		y0 := oy*p.StrideH - p.PadH
		k0, k1 := validTaps(y0, p.DilationH, p.KernelH, h)
		for ox := range ow {
			x0 := ox*p.StrideW - p.PadW
			j0, j1 := validTaps(x0, p.DilationW, p.KernelW, w)
			best := float32(math.Inf(-1))
			for ki := k0; ki < k1; ki++ {
				row := in[(y0+ki*p.DilationH)*w:]
				for kj := j0; kj < j1; kj++ {
					best = max(best, row[x0+kj*p.DilationW]) // NaN wins, as in PyTorch
				}
			}
			out[oy*ow+ox] = best
		}
	}
}

// validTaps returns the range [k0, k1) of window taps k whose position start + k·dil lies in
// [0, size).
func validTaps(start, dil, k, size int) (int, int) {
	k0 := 0
	if start < 0 {
		k0 = ceilDiv(-start, dil)
	}
	k1 := k
	if last := start + (k-1)*dil; last >= size {
		k1 = k - ceilDiv(last-size+1, dil)
	}
	return k0, max(k1, k0)
}

// AvgPool2d computes torch.nn.functional.avg_pool2d(x, kernel, stride, padding, ceil_mode,
// count_include_pad, divisor_override=None) for x [N, C, H, W] or [C, H, W]. The divisor is
// the window clipped to the padded input when CountIncludePad is set, else the window clipped
// to the input (PyTorch's rule, including windows that ceil_mode lets hang off the edge).
func AvgPool2d(dst, x *tensor.Tensor, p Pool2dParams) error {
	planes, h, w, oh, ow, err := checkPool(dst, x, p, false)
	if err != nil {
		return err
	}
	p = p.withDefaults()
	for pl := range planes {
		in := x.Data[pl*h*w : (pl+1)*h*w]
		out := dst.Data[pl*oh*ow : (pl+1)*oh*ow]
		for oy := range oh {
			y0 := oy*p.StrideH - p.PadH
			y1 := min(y0+p.KernelH, h+p.PadH)
			for ox := range ow {
				x0 := ox*p.StrideW - p.PadW
				x1 := min(x0+p.KernelW, w+p.PadW)
				poolSize := (y1 - y0) * (x1 - x0)
				cy0, cx0, cy1, cx1 := max(y0, 0), max(x0, 0), min(y1, h), min(x1, w)
				if cy0 >= cy1 || cx0 >= cx1 {
					out[oy*ow+ox] = 0
					continue
				}
				var s float64
				for iy := cy0; iy < cy1; iy++ {
					for _, v := range in[iy*w+cx0 : iy*w+cx1] {
						s += float64(v)
					}
				}
				div := poolSize
				if !p.CountIncludePad {
					div = (cy1 - cy0) * (cx1 - cx0)
				}
				out[oy*ow+ox] = float32(s / float64(div))
			}
		}
	}
	return nil
}

// AdaptiveAvgPool2d computes torch.nn.functional.adaptive_avg_pool2d(x, output_size) for x
// [N, C, H, W] or [C, H, W]; the output size is dst's last two dimensions. Output cell i
// averages input rows ⌊i·H/OH⌋ to ⌈(i+1)·H/OH⌉ (exclusive), likewise for columns.
func AdaptiveAvgPool2d(dst, x *tensor.Tensor) error {
	if err := validate(dst, x); err != nil {
		return err
	}
	r := x.Rank()
	if (r != 3 && r != 4) || dst.Rank() != r || !tensor.EqualShapes(dst.Shape[:r-2], x.Shape[:r-2]) ||
		dst.Shape[r-2] <= 0 || dst.Shape[r-1] <= 0 {
		return fmt.Errorf("%w: adaptive_avg_pool2d %v into %v", ErrShape, x.Shape, dst.Shape)
	}
	h, w, oh, ow := x.Shape[r-2], x.Shape[r-1], dst.Shape[r-2], dst.Shape[r-1]
	planes := tensor.Numel(x.Shape[:r-2])
	for pl := range planes {
		in := x.Data[pl*h*w : (pl+1)*h*w]
		out := dst.Data[pl*oh*ow : (pl+1)*oh*ow]
		for oy := range oh {
			y0, y1 := oy*h/oh, ceilDiv((oy+1)*h, oh)
			for ox := range ow {
				x0, x1 := ox*w/ow, ceilDiv((ox+1)*w, ow)
				var s float64
				for iy := y0; iy < y1; iy++ {
					for _, v := range in[iy*w+x0 : iy*w+x1] {
						s += float64(v)
					}
				}
				out[oy*ow+ox] = float32(s / float64((y1-y0)*(x1-x0)))
			}
		}
	}
	return nil
}
