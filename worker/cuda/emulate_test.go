package cuda

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"
	"unsafe"

	"github.com/torchgate/torchgate/worker/cuda/kernels"
	"github.com/torchgate/torchgate/worker/internal/engine"
)

// emulator runs a Lowered program on the host: kernels.cu's kernels transcribed to Go and
// cuBLAS's column-major GEMM (colMajorGemm). It checks everything the lowering decides —
// placement, strides, meta words, GEMM mapping, launch arguments — against PyTorch's
// outputs without a GPU; the CUDA code itself is checked on the GPU (gpu_test.go).
type emulator struct {
	low    *Lowered
	spaces [numSpaces][]byte
	consts [][]byte
}

func newEmulator(t *testing.T, low *Lowered) *emulator {
	e := &emulator{low: low}
	e.spaces[SpaceArena] = alignedBytes(low.ArenaBytes)
	e.spaces[SpaceScratch] = alignedBytes(low.ScratchBytes)
	e.spaces[SpaceStatus] = alignedBytes(4)
	e.spaces[SpaceMeta] = alignedBytes(int64(8 * len(low.Meta)))
	for i, w := range low.Meta {
		binary.LittleEndian.PutUint64(e.spaces[SpaceMeta][8*i:], uint64(w))
	}
	for _, c := range low.Consts {
		b, err := hostBytes(c.Data)
		if err != nil {
			t.Fatal(err)
		}
		c := alignedBytes(int64(len(b)))
		copy(c, b)
		e.consts = append(e.consts, c)
	}
	return e
}

// alignedBytes returns n zero bytes (at least 8) backed by 8-byte words.
func alignedBytes(n int64) []byte {
	w := make([]uint64, (n+15)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), len(w)*8)
}

func (e *emulator) mem(r Ref) []byte {
	switch r.Space {
	case SpaceNone:
		return nil
	case SpaceConst:
		return e.consts[r.Index][r.Off:]
	}
	return e.spaces[r.Space][r.Off:]
}

func f32s(b []byte) []float32 {
	if len(b) < 4 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

func i64s(b []byte) []int64 {
	if len(b) < 8 {
		return nil
	}
	return unsafe.Slice((*int64)(unsafe.Pointer(&b[0])), len(b)/8)
}

func (e *emulator) run(t *testing.T, inputs []engine.Tensor) []engine.Tensor {
	t.Helper()
	for i, b := range e.low.Inputs {
		data, err := inputBytes(inputs[i], b)
		if err != nil {
			t.Fatal(err)
		}
		copy(e.mem(b.Ref), data)
	}
	for i, st := range e.low.Steps {
		if g := st.Gemm; g != nil {
			cm := g.ColMajor()
			colMajorGemm(cm, f32s(e.mem(cm.A)), f32s(e.mem(cm.B)), f32s(e.mem(cm.C)))
			continue
		}
		if err := e.kernel(st.Kernel); err != nil {
			t.Fatalf("step %d (%s at %s): %v", i, st.Kernel.Name, st.Node.Pos, err)
		}
	}
	outs := make([]engine.Tensor, len(e.low.Outputs))
	for i, b := range e.low.Outputs {
		outs[i] = output(e.mem(b.Ref)[:b.Bytes], b)
	}
	return outs
}

func activate(x float32, act int64) float32 {
	v := float64(x)
	switch act {
	case kernels.ActReLU:
		return float32(math.Max(v, 0))
	case kernels.ActGELU:
		return float32(0.5 * v * (1 + math.Erf(v/math.Sqrt2)))
	case kernels.ActGELUTanh:
		return float32(0.5 * v * (1 + math.Tanh(0.7978845608028654*(v+0.044715*v*v*v))))
	case kernels.ActTanh:
		return float32(math.Tanh(v))
	case kernels.ActSigmoid:
		return float32(1 / (1 + math.Exp(-v)))
	}
	return x
}

// offset2 is kernels.cu's offset2.
func offset2(meta []int64, i int64) (int64, int64) {
	r := meta[0]
	shape, sa, sb := meta[1:1+r], meta[1+r:1+2*r], meta[1+2*r:1+3*r]
	var a, b int64
	for d := r - 1; d >= 0; d-- {
		q := i % shape[d]
		i /= shape[d]
		a += q * sa[d]
		b += q * sb[d]
	}
	return a, b
}

// kernel runs one launch. Each case follows the kernel of the same name in kernels.cu.
func (e *emulator) kernel(k *Kernel) error {
	p := func(i int) []byte { return e.mem(k.Args[i].ref) }
	f := func(i int) []float32 { return f32s(p(i)) }
	n := func(i int) int64 { return k.Args[i].i }
	meta := func(i int) []int64 { return i64s(p(i)) }
	switch k.Name {
	case kernels.Binary:
		out, a, b, m, kind, al := f(0), f(1), f(2), meta(3), n(5), float32(k.Args[6].f)
		for i := range n(4) {
			oa, ob := offset2(m, i)
			x, y := a[oa], b[ob]
			var z float32
			switch kind {
			case kernels.BinAdd:
				z = x + al*y
			case kernels.BinSub:
				z = x - al*y
			case kernels.BinRsub:
				z = y - al*x
			case kernels.BinMul:
				z = x * y
			case kernels.BinDiv:
				z = x / y
			case kernels.BinDivTrunc:
				z = float32(math.Trunc(float64(x / y)))
			default:
				z = float32(math.Floor(float64(x / y)))
			}
			out[i] = z
		}
	case kernels.Compare:
		out, a, b, m, kind := p(0), f(1), f(2), meta(3), n(5)
		for i := range n(4) {
			oa, ob := offset2(m, i)
			x, y := a[oa], b[ob]
			out[i] = b2u(kind == kernels.CmpGT && x > y || kind == kernels.CmpLT && x < y || kind == kernels.CmpEQ && x == y)
		}
	case kernels.MaskedFill:
		out, x, mask, m := f(0), f(1), p(2), meta(3)
		for i := range n(4) {
			ox, om := offset2(m, i)
			out[i] = x[ox]
			if mask[om] != 0 {
				out[i] = float32(k.Args[5].f)
			}
		}
	case kernels.Activation:
		out, x := f(0), f(1)
		for i := range n(2) {
			out[i] = activate(x[i], n(3))
		}
	case kernels.Epilogue:
		out, bias, res := f(0), f(1), f(2)
		for i := range n(3) {
			v := out[i]
			if bias != nil {
				v += bias[(i/n(5))%n(4)]
			}
			if res != nil {
				v += res[i]
			}
			out[i] = activate(v, n(6))
		}
	case kernels.BatchNorm:
		out, x, mean, vr, w, b := f(0), f(1), f(2), f(3), f(4), f(5)
		for i := range n(6) {
			c := (i / n(8)) % n(7)
			v := (x[i] - mean[c]) / float32(math.Sqrt(float64(vr[c])+k.Args[9].f))
			if w != nil {
				v *= w[c]
			}
			if b != nil {
				v += b[c]
			}
			out[i] = v
		}
	case kernels.StridedCopy:
		dst, src, m := f(0), f(1), meta(2)
		r := m[0]
		shape, ss, ds := m[1:1+r], m[1+r:1+2*r], m[1+2*r:1+3*r]
		for i := range n(3) {
			j, s, d := i, m[1+3*r], m[2+3*r]
			for q := r - 1; q >= 0; q-- {
				x := j % shape[q]
				j /= shape[q]
				s += x * ss[q]
				d += x * ds[q]
			}
			dst[d] = src[s]
		}
	case kernels.Reduce:
		out, x, m := f(0), f(1), meta(2)
		rk := m[0]
		ks, kst := m[1:1+rk], m[1+rk:1+2*rk]
		rr := m[1+2*rk]
		rs, rst := m[2+2*rk:2+2*rk+rr], m[2+2*rk+rr:2+2*rk+2*rr]
		for i := range n(3) {
			j, base := i, int64(0)
			for q := rk - 1; q >= 0; q-- {
				base += (j % ks[q]) * kst[q]
				j /= ks[q]
			}
			var acc float64
			for c := range n(4) {
				qq, off := c, base
				for q := rr - 1; q >= 0; q-- {
					off += (qq % rs[q]) * rst[q]
					qq /= rs[q]
				}
				acc += float64(x[off])
			}
			out[i] = float32(acc * k.Args[5].f)
		}
	case kernels.Softmax:
		out, x, dim, inner, logsm := f(0), f(1), n(3), n(4), n(5)
		for row := range n(2) {
			base := (row/inner)*dim*inner + row%inner
			m := float32(math.Inf(-1))
			for j := range dim {
				m = max(m, x[base+j*inner])
			}
			var s float64
			for j := range dim {
				s += math.Exp(float64(x[base+j*inner] - m))
			}
			for j := range dim {
				v := float64(x[base+j*inner] - m)
				if logsm != 0 {
					out[base+j*inner] = float32(v - math.Log(s))
				} else {
					out[base+j*inner] = float32(math.Exp(v) / s)
				}
			}
		}
	case kernels.AttnSoftmax:
		scores, mask, m, L, S, kind, causal := f(0), p(1), meta(2), n(4), n(5), n(6), n(7)
		for row := range n(3) {
			pr := scores[row*S : (row+1)*S]
			mx := math.Inf(-1)
			for j := range S {
				v := float64(pr[j])
				if kind != kernels.MaskNone {
					_, om := offset2(m, row*S+j)
					if kind == kernels.MaskAdditive {
						v += float64(f32s(mask)[om])
					} else if mask[om] == 0 {
						v = math.Inf(-1)
					}
				}
				if causal != 0 && j > row%L {
					v = math.Inf(-1)
				}
				pr[j] = float32(v)
				mx = math.Max(mx, v)
			}
			var s float64
			for j := range S {
				ev := 0.0
				if !math.IsInf(mx, -1) {
					ev = math.Exp(float64(pr[j]) - mx)
				}
				pr[j] = float32(ev)
				s += ev
			}
			for j := range S {
				pr[j] = float32(float64(pr[j]) / s)
			}
		}
	case kernels.LayerNorm:
		out, x, w, b, cols, eps := f(0), f(1), f(2), f(3), n(5), k.Args[6].f
		for row := range n(4) {
			xr, o := x[row*cols:(row+1)*cols], out[row*cols:(row+1)*cols]
			var s, v float64
			for _, a := range xr {
				s += float64(a)
			}
			mean := s / float64(cols)
			for _, a := range xr {
				v += (float64(a) - mean) * (float64(a) - mean)
			}
			rstd := 1 / math.Sqrt(v/float64(cols)+eps)
			for j, a := range xr {
				y := float32((float64(a) - mean) * rstd)
				if w != nil {
					y *= w[j]
				}
				if b != nil {
					y += b[j]
				}
				o[j] = y
			}
		}
	case kernels.Embedding:
		out, w, ids, dim, vocab := f(0), f(1), i64s(p(2)), n(4), n(5)
		for i := range n(3) {
			id := ids[i/dim]
			if id < 0 || id >= vocab {
				out[i] = 0
				p(6)[0] = 1
				continue
			}
			out[i] = w[id*dim+i%dim]
		}
	case kernels.CastInt64:
		out, x := f(0), i64s(p(1))
		for i := range n(2) {
			out[i] = float32(x[i])
		}
	case kernels.CastBool:
		out, x := f(0), p(1)
		for i := range n(2) {
			out[i] = float32(x[i])
		}
	case kernels.MaxPool2d, kernels.AvgPool2d, kernels.AdaptiveAvgPool:
		pool(k.Name, f(0), f(1), meta(2), n(3))
	case kernels.Im2col:
		col, x, q := f(0), f(1), meta(2)
		C, H, W, OH, OW, KH, KW, CG, c0 := q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[14], q[15]
		for i := range n(3) {
			ow, oh := i%OW, (i/OW)%OH
			r := (i / (OW * OH)) % (CG * KH * KW)
			img := i / (OW * OH * CG * KH * KW)
			kw, kh, c := r%KW, (r/KW)%KH, r/(KW*KH)+c0
			h, w := oh*q[8]-q[10]+kh*q[12], ow*q[9]-q[11]+kw*q[13]
			col[i] = 0
			if h >= 0 && h < H && w >= 0 && w < W {
				col[i] = x[((img*C+c)*H+h)*W+w]
			}
		}
	default:
		return fmt.Errorf("no emulation of %s", k.Name)
	}
	return nil
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// pool emulates the three pooling kernels.
func pool(name kernels.Name, out, x []float32, q []int64, total int64) {
	H, W, OH, OW := q[1], q[2], q[3], q[4]
	for i := range total {
		ow, oh, nc := i%OW, (i/OW)%OH, i/(OW*OH)
		xp := x[nc*H*W:]
		switch name {
		case kernels.AdaptiveAvgPool:
			hs, he := oh*H/OH, ((oh+1)*H+OH-1)/OH
			ws, we := ow*W/OW, ((ow+1)*W+OW-1)/OW
			var s float32
			for h := hs; h < he; h++ {
				for w := ws; w < we; w++ {
					s += xp[h*W+w]
				}
			}
			out[i] = s / float32((he-hs)*(we-ws))
		case kernels.MaxPool2d:
			m := float32(math.Inf(-1))
			for kh := range q[5] {
				h := oh*q[7] - q[9] + kh*q[11]
				for kw := range q[6] {
					w := ow*q[8] - q[10] + kw*q[12]
					if h >= 0 && h < H && w >= 0 && w < W && xp[h*W+w] > m {
						m = xp[h*W+w]
					}
				}
			}
			out[i] = m
		default:
			h0, w0 := oh*q[7]-q[9], ow*q[8]-q[10]
			h1, w1 := min(h0+q[5], H+q[9]), min(w0+q[6], W+q[10])
			padded := (h1 - h0) * (w1 - w0)
			hs, ws, he, we := max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)
			var s float32
			for h := hs; h < he; h++ {
				for w := ws; w < we; w++ {
					s += xp[h*W+w]
				}
			}
			div := (he - hs) * (we - ws)
			if q[13] != 0 {
				div = padded
			}
			out[i] = s / float32(div)
		}
	}
}

// TestEmulatedGolden runs every small fixture's lowered program in the emulator and
// compares with PyTorch: max |ours − torch| ≤ 1e-4 · max(1, max |torch|), the CPU
// engine's tolerance.
func TestEmulatedGolden(t *testing.T) {
	for _, gc := range append(goldenCases(t), embeddingCase(t)) {
		t.Run(gc.name, func(t *testing.T) {
			if gc.large {
				t.Skip("large model: too slow for the emulator (run on the GPU)")
			}
			low, err := Lower(preparedGraph(t, gc.archive, gc.inputs))
			if err != nil {
				t.Fatal(err)
			}
			got := newEmulator(t, low).run(t, gc.inputs)
			if len(got) != len(gc.want) {
				t.Fatalf("%d outputs, want %d", len(got), len(gc.want))
			}
			for i := range got {
				if err := compareGolden(got[i], gc.want[i], 1e-4); err != nil {
					t.Errorf("output %d: %v", i, err)
				}
			}
		})
	}
}

// compareGolden checks shape and max |got − want| ≤ tol · max(1, max |want|).
func compareGolden(got, want engine.Tensor, tol float64) error {
	if fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
		return fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	if want.Int64 != nil {
		if fmt.Sprint(got.Int64) != fmt.Sprint(want.Int64) {
			return fmt.Errorf("int64 data differs")
		}
		return nil
	}
	if len(got.Float32) != len(want.Float32) {
		return fmt.Errorf("%d elements, want %d", len(got.Float32), len(want.Float32))
	}
	var maxRef, maxDiff float64
	for j, w := range want.Float32 {
		maxRef = max(maxRef, math.Abs(float64(w)))
		d := math.Abs(float64(got.Float32[j]) - float64(w))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		maxDiff = max(maxDiff, d)
	}
	if limit := tol * max(1, maxRef); maxDiff > limit {
		return fmt.Errorf("max |diff| %.3g > %.3g", maxDiff, limit)
	}
	return nil
}
