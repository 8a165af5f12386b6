package cuda

import (
	"fmt"

	"github.com/torchgate/torchgate/worker/cuda/kernels"
	"github.com/torchgate/torchgate/worker/internal/graph"
	"github.com/torchgate/torchgate/worker/internal/torchscript"
)

var binaryKinds = map[graph.BinaryKind]int64{
	graph.BinAdd: kernels.BinAdd, graph.BinSub: kernels.BinSub, graph.BinRsub: kernels.BinRsub,
	graph.BinMul: kernels.BinMul, graph.BinDiv: kernels.BinDiv, graph.BinDivTrunc: kernels.BinDivTrunc,
	graph.BinDivFloor: kernels.BinDivFloor,
}

var compareKinds = map[graph.CompareKind]int64{
	graph.CmpGT: kernels.CmpGT, graph.CmpLT: kernels.CmpLT, graph.CmpEQ: kernels.CmpEQ,
}

// broadcast2 returns the offset2 meta broadcasting a and b to out.
func (l *lowering) broadcast2(a, b, out *graph.Value) (Ref, error) {
	sa, okA := broadcastStrides(a.Shape, out.Shape)
	sb, okB := broadcastStrides(b.Shape, out.Shape)
	if !okA || !okB {
		return Ref{}, fmt.Errorf("%w: broadcasting %v and %v to %v", ErrUnsupported, a.Shape, b.Shape, out.Shape)
	}
	return l.meta(offset2Meta(out.Shape, sa, sb)...), nil
}

func lowerBinary(l *lowering, n *graph.Node) error {
	a := n.Attr.(graph.Binary)
	kind, ok := binaryKinds[a.Kind]
	if !ok {
		return fmt.Errorf("%w: binary kind %d", ErrUnsupported, a.Kind)
	}
	m, err := l.broadcast2(n.In[0], n.In[1], n.Out[0])
	if err != nil {
		return err
	}
	r, err := l.refs(n.Out[0], n.In[0], n.In[1])
	if err != nil {
		return err
	}
	total := n.Out[0].Numel()
	l.elementwise(kernels.Binary, total, ptr(r[0]), ptr(r[1]), ptr(r[2]), ptr(m), i64(total), i64(int(kind)), f64(float64(a.Alpha)))
	return nil
}

func lowerCompare(l *lowering, n *graph.Node) error {
	kind, ok := compareKinds[n.Attr.(graph.CompareKind)]
	if !ok {
		return fmt.Errorf("%w: comparison %d", ErrUnsupported, n.Attr.(graph.CompareKind))
	}
	m, err := l.broadcast2(n.In[0], n.In[1], n.Out[0])
	if err != nil {
		return err
	}
	r, err := l.refs(n.Out[0], n.In[0], n.In[1])
	if err != nil {
		return err
	}
	total := n.Out[0].Numel()
	l.elementwise(kernels.Compare, total, ptr(r[0]), ptr(r[1]), ptr(r[2]), ptr(m), i64(total), i64(int(kind)))
	return nil
}

func lowerMaskedFill(l *lowering, n *graph.Node) error {
	m, err := l.broadcast2(n.In[0], n.In[1], n.Out[0])
	if err != nil {
		return err
	}
	r, err := l.refs(n.Out[0], n.In[0], n.In[1])
	if err != nil {
		return err
	}
	total := n.Out[0].Numel()
	l.elementwise(kernels.MaskedFill, total, ptr(r[0]), ptr(r[1]), ptr(r[2]), ptr(m), i64(total), f64(float64(n.Attr.(float32))))
	return nil
}

// lowerReshape: no step; the output shares its input's buffer (the memory plan's Root).
func lowerReshape(*lowering, *graph.Node) error { return nil }

// copyBox launches strided_copy_f32 for an r-dimensional box.
func (l *lowering) copyBox(dst, src Ref, shape []int, srcStrides, dstStrides []int64, srcOff, dstOff int64) {
	total := prod(shape)
	if total == 0 {
		return
	}
	m := append([]int64{int64(len(shape))}, toInt64(shape)...)
	m = append(append(append(m, srcStrides...), dstStrides...), srcOff, dstOff)
	l.elementwise(kernels.StridedCopy, total, ptr(dst), ptr(src), ptr(l.meta(m...)), i64(total))
}

func lowerPermute(l *lowering, n *graph.Node) error {
	perm, in := n.Attr.([]int), n.In[0].Shape
	if len(perm) != len(in) {
		return fmt.Errorf("%w: permutation %v of %v", ErrUnsupported, perm, in)
	}
	st := contiguous(in)
	ss := make([]int64, len(perm))
	for k, p := range perm {
		if p < 0 || p >= len(in) {
			return fmt.Errorf("%w: permutation %v of %v", ErrUnsupported, perm, in)
		}
		ss[k] = st[p]
	}
	r, err := l.refs(n.Out[0], n.In[0])
	if err != nil {
		return err
	}
	l.copyBox(r[0], r[1], n.Out[0].Shape, ss, contiguous(n.Out[0].Shape), 0, 0)
	return nil
}

func lowerSlice(l *lowering, n *graph.Node) error {
	a, in, out := n.Attr.(graph.Slice), n.In[0].Shape, n.Out[0].Shape
	if a.Dim < 0 || a.Dim >= len(in) || len(out) != len(in) || a.Step < 1 {
		return fmt.Errorf("%w: slice %+v of %v", ErrUnsupported, a, in)
	}
	ss := contiguous(in)
	off := int64(a.Start) * ss[a.Dim]
	ss[a.Dim] *= int64(a.Step)
	r, err := l.refs(n.Out[0], n.In[0])
	if err != nil {
		return err
	}
	l.copyBox(r[0], r[1], out, ss, contiguous(out), off, 0)
	return nil
}

func lowerSelect(l *lowering, n *graph.Node) error {
	a, in := n.Attr.(graph.Select), n.In[0].Shape
	if a.Dim < 0 || a.Dim >= len(in) {
		return fmt.Errorf("%w: select %+v of %v", ErrUnsupported, a, in)
	}
	st := contiguous(in)
	ss := append(append([]int64(nil), st[:a.Dim]...), st[a.Dim+1:]...)
	r, err := l.refs(n.Out[0], n.In[0])
	if err != nil {
		return err
	}
	l.copyBox(r[0], r[1], n.Out[0].Shape, ss, contiguous(n.Out[0].Shape), int64(a.Index)*st[a.Dim], 0)
	return nil
}

func lowerCat(l *lowering, n *graph.Node) error {
	out := n.Out[0].Shape
	d := n.Attr.(int)
	if d < 0 {
		d += len(out)
	}
	if d < 0 || d >= len(out) {
		return fmt.Errorf("%w: cat along %d into %v", ErrUnsupported, n.Attr.(int), out)
	}
	dst, err := l.ref(n.Out[0])
	if err != nil {
		return err
	}
	ds := contiguous(out)
	at := 0
	for _, x := range n.In {
		if len(x.Shape) != len(out) {
			return fmt.Errorf("%w: cat of %v into %v", ErrUnsupported, x.Shape, out)
		}
		src, err := l.ref(x)
		if err != nil {
			return err
		}
		l.copyBox(dst, src, x.Shape, contiguous(x.Shape), ds, 0, int64(at)*ds[d])
		at += x.Shape[d]
	}
	return nil
}

func lowerReduce(l *lowering, n *graph.Node) error {
	a, in := n.Attr.(graph.Reduce), n.In[0].Shape
	st := contiguous(in)
	reduced := make([]bool, len(in))
	for _, d := range a.Dims {
		if d < 0 || d >= len(in) {
			return fmt.Errorf("%w: reduce over %v of %v", ErrUnsupported, a.Dims, in)
		}
		reduced[d] = true
	}
	var ks, rs []int
	var kst, rst []int64
	for d, r := range reduced {
		if r {
			rs, rst = append(rs, in[d]), append(rst, st[d])
		} else {
			ks, kst = append(ks, in[d]), append(kst, st[d])
		}
	}
	count := prod(rs)
	if count == 0 {
		return fmt.Errorf("%w: reduce over an empty dimension of %v", ErrUnsupported, in)
	}
	m := append([]int64{int64(len(ks))}, toInt64(ks)...)
	m = append(append(m, kst...), int64(len(rs)))
	m = append(append(m, toInt64(rs)...), rst...)
	r, err := l.refs(n.Out[0], n.In[0])
	if err != nil {
		return err
	}
	scale := 1.0
	if a.Kind == graph.ReduceMean {
		scale = 1 / float64(count)
	}
	total := n.Out[0].Numel()
	l.elementwise(kernels.Reduce, total, ptr(r[0]), ptr(r[1]), ptr(l.meta(m...)), i64(total), i64(count), f64(scale))
	return nil
}

func lowerCast(l *lowering, n *graph.Node) error {
	var name kernels.Name
	switch n.In[0].DType {
	case torchscript.Int64:
		name = kernels.CastInt64
	case torchscript.Bool:
		name = kernels.CastBool
	default:
		return fmt.Errorf("%w: cast from %s", ErrUnsupported, n.In[0].DType)
	}
	r, err := l.refs(n.Out[0], n.In[0])
	if err != nil {
		return err
	}
	total := n.Out[0].Numel()
	l.elementwise(name, total, ptr(r[0]), ptr(r[1]), i64(total))
	return nil
}
