package graph

import (
	"slices"

	"github.com/torchgate/torchgate/worker/internal/cpu"
	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// FoldBatchNorm folds every inference batch_norm whose input is a convolution used only by
// it into that convolution: the per-channel factor goes into Conv2d.Scale (the weight
// constant is left as it is, so it stays the archive's data and no copy of it is made) and
// the bias becomes a new constant. It returns how many it folded.
func FoldBatchNorm(g *Graph) (int, error) {
	uses := g.uses()
	folded := 0
	out := g.Nodes[:0:0]
	for _, n := range g.Nodes {
		conv := n.In[0].Producer
		if n.Op != OpBatchNorm || conv == nil || conv.Op != OpConv2d || uses[n.In[0].ID] != 1 ||
			len(conv.In) > 3 || conv.Attr.(Conv2d).Act != ActNone || !allConst(n.In[1:]) || !allConst(conv.In[1:]) {
			out = append(out, n)
			continue
		}
		a := conv.Attr.(Conv2d)
		c := conv.In[1].Shape[0]
		if a.Scale == nil {
			a.Scale = make([]float64, c)
			for i := range a.Scale {
				a.Scale[i] = 1
			}
		} else {
			a.Scale = slices.Clone(a.Scale)
		}
		bias := make([]float32, c)
		if b := conv.In[2]; b != nil {
			copy(bias, b.Float32().Data)
		}
		if err := cpu.FoldBatchNorm(a.Scale, bias, data(n.In[1]), data(n.In[2]), data(n.In[3]), data(n.In[4]), float64(n.Attr.(Eps))); err != nil {
			return folded, err
		}
		conv.Attr = a
		conv.In[2] = g.newConst(&tensor.Tensor{Shape: []int{c}, Data: bias})
		conv.Out[0] = n.Out[0]
		n.Out[0].Producer = conv
		folded++
	}
	g.Nodes = out
	return folded, nil
}

func allConst(vs []*Value) bool {
	for _, v := range vs {
		if v != nil && v.Const == nil {
			return false
		}
	}
	return true
}

// data returns a Float32 constant's elements, or nil for an absent value.
func data(v *Value) []float32 {
	if v == nil {
		return nil
	}
	return v.Float32().Data
}

// Fuse moves a residual add and then an activation that follow a convolution or linear
// layer into that layer's epilogue (bias + residual + activation in one pass over the
// output, as the kernels compute it). The layer's output must feed only the fused op. The
// fused node runs where the add or activation ran. It returns how many ops it removed.
func Fuse(g *Graph) int {
	uses := g.uses()
	fused := 0
	out := make([]*Node, 0, len(g.Nodes))
	for _, n := range g.Nodes {
		if p := fusable(n, uses); p != nil {
			if n.Op == OpBinary {
				r := n.In[0]
				if r == p.Out[0] {
					r = n.In[1]
				}
				p.In = append(p.In[:3:3], r)
			} else {
				setAct(p, n.Attr.(Activation))
			}
			p.Out[0] = n.Out[0]
			n.Out[0].Producer = p
			i := slices.Index(out, p)
			out = append(slices.Delete(out, i, i+1), p)
			fused++
			continue
		}
		out = append(out, n)
	}
	g.Nodes = out
	return fused
}

// fusable returns the convolution or linear node that n (an add or an activation) can be
// fused into, or nil.
func fusable(n *Node, uses []int) *Node {
	var cands []*Value
	switch n.Op {
	case OpActivation:
		cands = n.In[:1]
	case OpBinary:
		if b := n.Attr.(Binary); b.Kind != BinAdd || b.Alpha != 1 || n.In[0] == n.In[1] ||
			!slices.Equal(n.In[0].Shape, n.In[1].Shape) {
			return nil
		}
		cands = n.In
	default:
		return nil
	}
	for _, x := range cands {
		p := x.Producer
		if p == nil || (p.Op != OpConv2d && p.Op != OpLinear) || uses[x.ID] != 1 || epilogueAct(p) != ActNone {
			continue
		}
		if n.Op == OpBinary && len(p.In) > 3 {
			continue
		}
		return p
	}
	return nil
}

func epilogueAct(p *Node) Activation {
	if a, ok := p.Attr.(Conv2d); ok {
		return a.Act
	}
	return p.Attr.(Linear).Act
}

func setAct(p *Node, act Activation) {
	switch a := p.Attr.(type) {
	case Conv2d:
		a.Act = act
		p.Attr = a
	case Linear:
		a.Act = act
		p.Attr = a
	}
}

// FoldConstants evaluates, once, every node whose inputs are all constants: eval must set
// Const on each of the node's outputs. The nodes are removed from the graph.
func FoldConstants(g *Graph, eval func(*Node) error) error {
	out := g.Nodes[:0:0]
	for _, n := range g.Nodes {
		if !allConst(n.In) {
			out = append(out, n)
			continue
		}
		if err := eval(n); err != nil {
			return posError(n.Pos, err)
		}
		for _, o := range n.Out {
			o.Producer = nil
		}
	}
	g.Nodes = out
	return nil
}
