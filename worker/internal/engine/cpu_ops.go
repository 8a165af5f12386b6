package engine

import (
	"fmt"

	"github.com/torchgate/torchgate/worker/internal/cpu"
	"github.com/torchgate/torchgate/worker/internal/graph"
	"github.com/torchgate/torchgate/worker/internal/tensor"
	"github.com/torchgate/torchgate/worker/internal/torchscript"
)

// activations maps graph activations to the kernels'.
var activations = map[graph.Activation]cpu.Activation{
	graph.ActNone: cpu.ActNone, graph.ActReLU: cpu.ActReLU, graph.ActGELU: cpu.ActGELU,
	graph.ActGELUTanh: cpu.ActGELUTanh, graph.ActTanh: cpu.ActTanh, graph.ActSigmoid: cpu.ActSigmoid,
}

// floats returns a Float32 value's data, or nil for an absent value.
func (p *cpuProgram) floats(v *graph.Value) []float32 {
	if v == nil {
		return nil
	}
	return p.f32[v.ID].Data
}

// compile returns the step that runs node n on the program's headers. Steps read header
// data when they run, so inputs bound at Run time are seen.
func (p *cpuProgram) compile(n *graph.Node) (func() error, error) {
	e := p.be.eng
	in := func(i int) *tensor.Tensor {
		if i >= len(n.In) || n.In[i] == nil {
			return nil
		}
		return p.f32[n.In[i].ID]
	}
	dst := p.f32[n.Out[0].ID]
	switch n.Op {
	case graph.OpConv2d:
		a := n.Attr.(graph.Conv2d)
		w, err := p.be.convWeights(n.In[1], in(1), a)
		if err != nil {
			return nil, err
		}
		x, epi := in(0), p.epilogue(n, a.Act, cpu.BiasPerRow)
		prm := cpu.Conv2dParams{StrideH: a.StrideH, StrideW: a.StrideW, PadH: a.PadH, PadW: a.PadW, DilationH: a.DilationH, DilationW: a.DilationW}
		if err := e.ReserveConv2d(x.Shape, w, prm); err != nil {
			return nil, err
		}
		return func() error { return e.Conv2d(dst, x, w, prm, epi()) }, nil
	case graph.OpLinear:
		w, err := p.be.linearWeights(n.In[1], in(1))
		if err != nil {
			return nil, err
		}
		x, epi := in(0), p.epilogue(n, n.Attr.(graph.Linear).Act, cpu.BiasPerColumn)
		return func() error { return e.Linear(dst, x, w, epi()) }, nil
	case graph.OpMatmul:
		a, b := in(0), in(1)
		return func() error { return e.Matmul(dst, a, b) }, nil
	case graph.OpBatchNorm:
		x, eps := in(0), float64(n.Attr.(graph.Eps))
		mean, variance, w, b := p.floats(n.In[1]), p.floats(n.In[2]), p.floats(n.In[3]), p.floats(n.In[4])
		return func() error { return cpu.BatchNorm(dst, x, mean, variance, w, b, eps) }, nil
	case graph.OpLayerNorm:
		a := n.Attr.(graph.LayerNorm)
		x, w, b := in(0), p.floats(n.In[1]), p.floats(n.In[2])
		return func() error { return cpu.LayerNorm(dst, x, a.Shape, w, b, a.Eps) }, nil
	case graph.OpActivation:
		x, act := in(0), activations[n.Attr.(graph.Activation)]
		return func() error { return cpu.Activate(dst, x, act) }, nil
	case graph.OpSoftmax:
		a, x := n.Attr.(graph.Softmax), in(0)
		if a.Log {
			return func() error { return cpu.LogSoftmax(dst, x, a.Dim) }, nil
		}
		return func() error { return cpu.Softmax(dst, x, a.Dim) }, nil
	case graph.OpEmbedding:
		w, ids := in(0), p.i64[n.In[1].ID]
		return func() error { return cpu.Embedding(dst, ids, w) }, nil
	case graph.OpBinary:
		return p.binary(n, dst, in(0), in(1))
	case graph.OpCompare:
		a, b, out := in(0), in(1), p.bools[n.Out[0].ID]
		op := map[graph.CompareKind]cpu.CompareOp{graph.CmpGT: cpu.Greater, graph.CmpLT: cpu.Less, graph.CmpEQ: cpu.Equal}[n.Attr.(graph.CompareKind)]
		return func() error { return cpu.Compare(out, a, b, op) }, nil
	case graph.OpMaskedFill:
		x, mask, val := in(0), p.bools[n.In[1].ID], n.Attr.(float32)
		return func() error { return cpu.MaskedFill(dst, x, mask, val) }, nil
	case graph.OpMaxPool2d, graph.OpAvgPool2d:
		a, x := n.Attr.(graph.Pool2d), in(0)
		prm := cpu.Pool2dParams{KernelH: a.KernelH, KernelW: a.KernelW, StrideH: a.StrideH, StrideW: a.StrideW,
			PadH: a.PadH, PadW: a.PadW, DilationH: a.DilationH, DilationW: a.DilationW, CeilMode: a.CeilMode, CountIncludePad: a.CountIncludePad}
		if n.Op == graph.OpMaxPool2d {
			return func() error { return e.MaxPool2d(dst, x, prm) }, nil
		}
		return func() error { return cpu.AvgPool2d(dst, x, prm) }, nil
	case graph.OpAdaptiveAvgPool2d:
		x := in(0)
		return func() error { return cpu.AdaptiveAvgPool2d(dst, x) }, nil
	case graph.OpReshape:
		return func() error { return nil }, nil // shares its input's buffer
	case graph.OpPermute:
		x, perm := in(0), n.Attr.([]int)
		return func() error { return cpu.Permute(dst, x, perm) }, nil
	case graph.OpSlice:
		a, x := n.Attr.(graph.Slice), in(0)
		return func() error { return cpu.Slice(dst, x, a.Dim, a.Start, a.End, a.Step) }, nil
	case graph.OpSelect:
		a, x := n.Attr.(graph.Select), in(0)
		return func() error { return cpu.Select(dst, x, a.Dim, a.Index) }, nil
	case graph.OpCat:
		xs := make([]*tensor.Tensor, len(n.In))
		for i := range xs {
			xs[i] = in(i)
		}
		d := n.Attr.(int)
		return func() error { return cpu.Cat(dst, xs, d) }, nil
	case graph.OpReduce:
		x, r := in(0), &reducer{Reduce: n.Attr.(graph.Reduce)}
		return func() error { return r.run(dst, x) }, nil
	case graph.OpAttention:
		return p.attention(n, dst)
	case graph.OpCast:
		return p.cast(n, dst)
	}
	return nil, fmt.Errorf("%w: op %s on the CPU", ErrUnsupported, n.Op)
}

// epilogue returns a function giving the node's fused epilogue, refreshed with the
// residual's current data (which may be a model input bound at Run time).
func (p *cpuProgram) epilogue(n *graph.Node, act graph.Activation, axis cpu.BiasAxis) func() *cpu.Epilogue {
	epi := &cpu.Epilogue{Bias: p.floats(n.In[2]), BiasAxis: axis, Act: activations[act]}
	if len(n.In) < 4 {
		return func() *cpu.Epilogue { return epi }
	}
	res := p.f32[n.In[3].ID]
	return func() *cpu.Epilogue {
		epi.Residual = res.Data
		return epi
	}
}

func (p *cpuProgram) binary(n *graph.Node, dst, a, b *tensor.Tensor) (func() error, error) {
	attr := n.Attr.(graph.Binary)
	switch attr.Kind {
	case graph.BinAdd:
		return func() error { return cpu.Add(dst, a, b, attr.Alpha) }, nil
	case graph.BinSub:
		return func() error { return cpu.Sub(dst, a, b, attr.Alpha) }, nil
	case graph.BinRsub:
		return func() error { return cpu.Rsub(dst, a, b, attr.Alpha) }, nil
	case graph.BinMul:
		return func() error { return cpu.Mul(dst, a, b) }, nil
	case graph.BinDiv:
		return func() error { return cpu.Div(dst, a, b, cpu.RoundNone) }, nil
	case graph.BinDivTrunc:
		return func() error { return cpu.Div(dst, a, b, cpu.RoundTrunc) }, nil
	case graph.BinDivFloor:
		return func() error { return cpu.Div(dst, a, b, cpu.RoundFloor) }, nil
	}
	return nil, fmt.Errorf("%w: binary kind %d", ErrUnsupported, attr.Kind)
}

func (p *cpuProgram) attention(n *graph.Node, dst *tensor.Tensor) (func() error, error) {
	a := n.Attr.(graph.Attention)
	q, k, v := p.f32[n.In[0].ID], p.f32[n.In[1].ID], p.f32[n.In[2].ID]
	opts := cpu.AttentionOptions{Causal: a.Causal, Scale: a.Scale}
	if m := n.In[3]; m != nil {
		if m.DType == torchscript.Bool {
			opts.BoolMask = p.bools[m.ID]
		} else {
			opts.Mask = p.f32[m.ID]
		}
	}
	eng := p.be.eng
	return func() error { return eng.ScaledDotProductAttention(dst, q, k, v, opts) }, nil
}
