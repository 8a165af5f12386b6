package cuda

import (
	"fmt"
	"math"

	"github.com/torchgate/torchgate/worker/cuda/kernels"
	"github.com/torchgate/torchgate/worker/internal/graph"
	"github.com/torchgate/torchgate/worker/internal/torchscript"
)

// activations maps graph activations to the kernels' codes.
var activations = map[graph.Activation]int64{
	graph.ActNone: kernels.ActNone, graph.ActReLU: kernels.ActReLU, graph.ActGELU: kernels.ActGELU,
	graph.ActGELUTanh: kernels.ActGELUTanh, graph.ActTanh: kernels.ActTanh, graph.ActSigmoid: kernels.ActSigmoid,
}

func activation(a graph.Activation) (int64, error) {
	c, ok := activations[a]
	if !ok {
		return 0, fmt.Errorf("%w: activation %d", ErrUnsupported, a)
	}
	return c, nil
}

// lowerConv2d: im2col into scratch and one strided-batched GEMM per group (a 1×1,
// stride-1, unpadded, ungrouped convolution multiplies the input directly), then the
// epilogue.
func lowerConv2d(l *lowering, n *graph.Node) error {
	a := n.Attr.(graph.Conv2d)
	xs, os, ws := batched4(n.In[0].Shape), batched4(n.Out[0].Shape), n.In[1].Shape
	if xs == nil || os == nil || len(ws) != 4 {
		return fmt.Errorf("%w: convolution of %v with %v", ErrUnsupported, n.In[0].Shape, ws)
	}
	N, C, H, W := xs[0], xs[1], xs[2], xs[3]
	Cout, CG, KH, KW := ws[0], ws[1], ws[2], ws[3]
	G := max(a.Groups, 1)
	OH, OW := os[2], os[3]
	if CG*G != C || Cout%G != 0 || os[1] != Cout {
		return fmt.Errorf("%w: convolution of %v with %v in %d groups", ErrUnsupported, xs, ws, G)
	}
	r, err := l.refs(n.In[0], n.Out[0])
	if err != nil {
		return err
	}
	w, err := l.scaledWeight(n.In[1], a.Scale)
	if err != nil {
		return err
	}
	x, out := r[0], r[1]
	CoutG, OHW, KK := Cout/G, OH*OW, CG*KH*KW
	direct := KH == 1 && KW == 1 && a.StrideH == 1 && a.StrideW == 1 && a.PadH == 0 && a.PadW == 0 && G == 1
	var col Ref
	if !direct {
		col = l.scratch(int64(N*KK*OHW) * 4)
	}
	for g := range G {
		b, ldb, strideB := x, OHW, int64(C*H*W)
		if !direct {
			m := l.meta(toInt64([]int{N, C, H, W, OH, OW, KH, KW, a.StrideH, a.StrideW, a.PadH, a.PadW, a.DilationH, a.DilationW, CG, g * CG})...)
			total := N * KK * OHW
			l.elementwise(kernels.Im2col, total, ptr(col), ptr(x), ptr(m), i64(total))
			b, strideB = col, int64(KK*OHW)
		}
		l.gemm(Gemm{
			M: CoutG, N: OHW, K: KK,
			A: w.plus(int64(g*CoutG*KK) * 4), LDA: KK,
			B: b, LDB: ldb, StrideB: strideB,
			C: out.plus(int64(g*CoutG*OHW) * 4), LDC: OHW, StrideC: int64(Cout * OHW),
			Batch: N, Alpha: 1,
		})
	}
	return l.epilogue(n, out, a.Act, Cout, OHW)
}

// batched4 returns a convolution or pooling shape as [N, C, H, W] (an unbatched [C, H, W]
// gets N = 1), or nil.
func batched4(s []int) []int {
	switch len(s) {
	case 3:
		return []int{1, s[0], s[1], s[2]}
	case 4:
		return s
	}
	return nil
}

// epilogue adds the bias (In[2], per channel (i/inner) % channels) and the residual
// (In[3]) and applies the activation, in place; nothing when there is nothing to do.
func (l *lowering) epilogue(n *graph.Node, out Ref, act graph.Activation, channels, inner int) error {
	code, err := activation(act)
	if err != nil {
		return err
	}
	var bias, res *graph.Value
	if len(n.In) > 2 {
		bias = n.In[2]
	}
	if len(n.In) > 3 {
		res = n.In[3]
	}
	if bias == nil && res == nil && code == kernels.ActNone {
		return nil
	}
	r, err := l.refs(bias, res)
	if err != nil {
		return err
	}
	total := n.Out[0].Numel()
	l.elementwise(kernels.Epilogue, total, ptr(out), ptr(r[0]), ptr(r[1]), i64(total), i64(channels), i64(inner), i64(int(code)))
	return nil
}

// lowerLinear: y = x·Wᵀ as one GEMM over all rows, then the epilogue.
func lowerLinear(l *lowering, n *graph.Node) error {
	xs, ws := n.In[0].Shape, n.In[1].Shape
	if len(xs) == 0 || len(ws) != 2 || xs[len(xs)-1] != ws[1] {
		return fmt.Errorf("%w: linear of %v with %v", ErrUnsupported, xs, ws)
	}
	in, outF := ws[1], ws[0]
	r, err := l.refs(n.In[0], n.In[1], n.Out[0])
	if err != nil {
		return err
	}
	rows := n.In[0].Numel() / max(in, 1)
	l.gemm(Gemm{M: rows, N: outF, K: in, A: r[0], LDA: in, B: r[1], TransB: true, LDB: in, C: r[2], LDC: outF, Batch: 1, Alpha: 1})
	return l.epilogue(n, r[2], n.Attr.(graph.Linear).Act, outF, 1)
}

// lowerMatmul: torch.matmul. Batch dimensions must match, or one side's be all ones
// (shared across the batch); other broadcasts are not lowered.
func lowerMatmul(l *lowering, n *graph.Node) error {
	as, bs := n.In[0].Shape, n.In[1].Shape
	if len(as) == 0 || len(bs) == 0 {
		return fmt.Errorf("%w: matmul of scalars", ErrUnsupported)
	}
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	M, K, N := as[len(as)-2], as[len(as)-1], bs[len(bs)-1]
	if bs[len(bs)-2] != K {
		return fmt.Errorf("%w: matmul of %v and %v", ErrUnsupported, n.In[0].Shape, n.In[1].Shape)
	}
	pa, pb := prod(as[:len(as)-2]), prod(bs[:len(bs)-2])
	r, err := l.refs(n.In[0], n.In[1], n.Out[0])
	if err != nil {
		return err
	}
	g := Gemm{M: M, N: N, K: K, A: r[0], LDA: K, B: r[1], LDB: N, C: r[2], LDC: N, Batch: 1, Alpha: 1}
	switch {
	case pb == 1:
		g.M = pa * M
	case pa == 1:
		g.Batch, g.StrideB, g.StrideC = pb, int64(K*N), int64(M*N)
	case sameBatch(as[:len(as)-2], bs[:len(bs)-2]):
		g.Batch, g.StrideA, g.StrideB, g.StrideC = pa, int64(M*K), int64(K*N), int64(M*N)
	default:
		return fmt.Errorf("%w: matmul broadcasting %v against %v", ErrUnsupported, n.In[0].Shape, n.In[1].Shape)
	}
	l.gemm(g)
	return nil
}

// sameBatch reports whether two batch shapes are equal once leading ones are dropped.
func sameBatch(a, b []int) bool {
	trim := func(s []int) []int {
		for len(s) > 0 && s[0] == 1 {
			s = s[1:]
		}
		return s
	}
	a, b = trim(a), trim(b)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// lowerAttention: scores = scale·Q·Kᵀ (batched GEMM into scratch), masked softmax in
// place, out = P·V (batched GEMM).
func lowerAttention(l *lowering, n *graph.Node) error {
	a := n.Attr.(graph.Attention)
	qs, ks, vs := n.In[0].Shape, n.In[1].Shape, n.In[2].Shape
	if len(qs) < 2 || len(ks) != len(qs) || len(vs) != len(qs) {
		return fmt.Errorf("%w: attention of %v, %v, %v", ErrUnsupported, qs, ks, vs)
	}
	r := len(qs)
	L, E, S, Ev := qs[r-2], qs[r-1], ks[r-2], vs[r-1]
	B := prod(qs[:r-2])
	if prod(ks[:r-2]) != B || prod(vs[:r-2]) != B || ks[r-1] != E || vs[r-2] != S {
		return fmt.Errorf("%w: attention of %v, %v, %v", ErrUnsupported, qs, ks, vs)
	}
	var mask *graph.Value
	if len(n.In) > 3 {
		mask = n.In[3]
	}
	refs, err := l.refs(n.In[0], n.In[1], n.In[2], mask, n.Out[0])
	if err != nil {
		return err
	}
	scale := a.Scale
	if scale == 0 {
		scale = 1 / math.Sqrt(float64(E))
	}
	scores := l.scratch(int64(B*L*S) * 4)
	l.gemm(Gemm{M: L, N: S, K: E, A: refs[0], LDA: E, StrideA: int64(L * E),
		B: refs[1], TransB: true, LDB: E, StrideB: int64(S * E),
		C: scores, LDC: S, StrideC: int64(L * S), Batch: B, Alpha: float32(scale)})
	kind, meta := kernels.MaskNone, Ref{}
	if mask != nil {
		shape := append(append([]int(nil), qs[:r-2]...), L, S)
		ms, ok := broadcastStrides(mask.Shape, shape)
		if !ok {
			return fmt.Errorf("%w: attention mask %v for scores %v", ErrUnsupported, mask.Shape, shape)
		}
		meta = l.meta(offset2Meta(shape, contiguous(shape), ms)...)
		kind = kernels.MaskAdditive
		if mask.DType == torchscript.Bool {
			kind = kernels.MaskBool
		}
	}
	causal := 0
	if a.Causal {
		causal = 1
	}
	l.kernel(kernels.AttnSoftmax, kernels.Rows(int64(B*L), int64(S)),
		ptr(scores), ptr(refs[3]), ptr(meta), i64(B*L), i64(L), i64(S), i64(int(kind)), i64(causal))
	l.gemm(Gemm{M: L, N: Ev, K: S, A: scores, LDA: S, StrideA: int64(L * S),
		B: refs[2], LDB: Ev, StrideB: int64(S * Ev),
		C: refs[4], LDC: Ev, StrideC: int64(L * Ev), Batch: B, Alpha: 1})
	return nil
}

// offset2Meta is the meta of the kernels' offset2: rank, shape, strides of a, of b.
func offset2Meta(shape []int, sa, sb []int64) []int64 {
	m := append([]int64{int64(len(shape))}, toInt64(shape)...)
	return append(append(m, sa...), sb...)
}

func lowerBatchNorm(l *lowering, n *graph.Node) error {
	xs := n.In[0].Shape
	if len(xs) < 2 {
		return fmt.Errorf("%w: batch_norm of %v", ErrUnsupported, xs)
	}
	r, err := l.refs(n.Out[0], n.In[0], n.In[1], n.In[2], n.In[3], n.In[4])
	if err != nil {
		return err
	}
	total := n.Out[0].Numel()
	l.elementwise(kernels.BatchNorm, total, ptr(r[0]), ptr(r[1]), ptr(r[2]), ptr(r[3]), ptr(r[4]), ptr(r[5]),
		i64(total), i64(xs[1]), i64(prod(xs[2:])), f64(float64(n.Attr.(graph.Eps))))
	return nil
}

func lowerLayerNorm(l *lowering, n *graph.Node) error {
	a := n.Attr.(graph.LayerNorm)
	cols := prod(a.Shape)
	if cols == 0 || n.In[0].Numel()%cols != 0 {
		return fmt.Errorf("%w: layer_norm over %v of %v", ErrUnsupported, a.Shape, n.In[0].Shape)
	}
	rows := n.In[0].Numel() / cols
	r, err := l.refs(n.Out[0], n.In[0], n.In[1], n.In[2])
	if err != nil {
		return err
	}
	l.kernel(kernels.LayerNorm, kernels.Rows(int64(rows), int64(cols)),
		ptr(r[0]), ptr(r[1]), ptr(r[2]), ptr(r[3]), i64(rows), i64(cols), f64(a.Eps))
	return nil
}

func lowerSoftmax(l *lowering, n *graph.Node) error {
	a, s := n.Attr.(graph.Softmax), n.In[0].Shape
	d := a.Dim
	if d < 0 {
		d += len(s)
	}
	if d < 0 || d >= len(s) || s[d] == 0 {
		return fmt.Errorf("%w: softmax over dim %d of %v", ErrUnsupported, a.Dim, s)
	}
	r, err := l.refs(n.Out[0], n.In[0])
	if err != nil {
		return err
	}
	rows, logsm := n.In[0].Numel()/s[d], 0
	if a.Log {
		logsm = 1
	}
	l.kernel(kernels.Softmax, kernels.Rows(int64(rows), int64(s[d])),
		ptr(r[0]), ptr(r[1]), i64(rows), i64(s[d]), i64(prod(s[d+1:])), i64(logsm))
	return nil
}

func lowerActivation(l *lowering, n *graph.Node) error {
	code, err := activation(n.Attr.(graph.Activation))
	if err != nil {
		return err
	}
	r, err := l.refs(n.Out[0], n.In[0])
	if err != nil {
		return err
	}
	total := n.Out[0].Numel()
	l.elementwise(kernels.Activation, total, ptr(r[0]), ptr(r[1]), i64(total), i64(int(code)))
	return nil
}

func lowerEmbedding(l *lowering, n *graph.Node) error {
	ws := n.In[0].Shape
	if len(ws) != 2 || n.In[1].DType != torchscript.Int64 {
		return fmt.Errorf("%w: embedding of %v", ErrUnsupported, ws)
	}
	r, err := l.refs(n.Out[0], n.In[0], n.In[1])
	if err != nil {
		return err
	}
	total := n.Out[0].Numel()
	l.elementwise(kernels.Embedding, total, ptr(r[0]), ptr(r[1]), ptr(r[2]), i64(total), i64(ws[1]), i64(ws[0]),
		ptr(Ref{Space: SpaceStatus}))
	return nil
}

// lowerPool2d: max and average pooling, one thread per output element.
func lowerPool2d(l *lowering, n *graph.Node) error {
	a := n.Attr.(graph.Pool2d)
	xs, os := batched4(n.In[0].Shape), batched4(n.Out[0].Shape)
	if xs == nil || os == nil {
		return fmt.Errorf("%w: pooling of %v", ErrUnsupported, n.In[0].Shape)
	}
	cip := 0
	if a.CountIncludePad {
		cip = 1
	}
	m := l.meta(toInt64([]int{xs[0] * xs[1], xs[2], xs[3], os[2], os[3], a.KernelH, a.KernelW, a.StrideH, a.StrideW,
		a.PadH, a.PadW, max(a.DilationH, 1), max(a.DilationW, 1), cip})...)
	r, err := l.refs(n.Out[0], n.In[0])
	if err != nil {
		return err
	}
	name := kernels.AvgPool2d
	if n.Op == graph.OpMaxPool2d {
		name = kernels.MaxPool2d
	}
	total := n.Out[0].Numel()
	l.elementwise(name, total, ptr(r[0]), ptr(r[1]), ptr(m), i64(total))
	return nil
}

func lowerAdaptiveAvgPool2d(l *lowering, n *graph.Node) error {
	xs, os := batched4(n.In[0].Shape), batched4(n.Out[0].Shape)
	if xs == nil || os == nil || os[2] == 0 || os[3] == 0 {
		return fmt.Errorf("%w: adaptive pooling of %v", ErrUnsupported, n.In[0].Shape)
	}
	m := l.meta(toInt64([]int{xs[0] * xs[1], xs[2], xs[3], os[2], os[3]})...)
	r, err := l.refs(n.Out[0], n.In[0])
	if err != nil {
		return err
	}
	total := n.Out[0].Numel()
	l.elementwise(kernels.AdaptiveAvgPool, total, ptr(r[0]), ptr(r[1]), ptr(m), i64(total))
	return nil
}
