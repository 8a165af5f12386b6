package cuda

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/torchgate/torchgate/worker/cuda/kernels"
	"github.com/torchgate/torchgate/worker/internal/graph"
	"github.com/torchgate/torchgate/worker/internal/torchscript"
)

// errLayout reports a Ref outside its space: a bug in the lowering, never bad input.
var errLayout = errors.New("cuda: address outside the program's memory")

// lowerFunc appends the steps computing node n.
type lowerFunc func(l *lowering, n *graph.Node) error

// lowerers is the op lowering table: every graph op the CPU engine runs has an entry
// (TestOpCoverage checks it against graph's op list).
var lowerers = map[graph.Op]lowerFunc{
	graph.OpConv2d:            lowerConv2d,
	graph.OpLinear:            lowerLinear,
	graph.OpMatmul:            lowerMatmul,
	graph.OpBatchNorm:         lowerBatchNorm,
	graph.OpLayerNorm:         lowerLayerNorm,
	graph.OpActivation:        lowerActivation,
	graph.OpSoftmax:           lowerSoftmax,
	graph.OpEmbedding:         lowerEmbedding,
	graph.OpBinary:            lowerBinary,
	graph.OpCompare:           lowerCompare,
	graph.OpMaskedFill:        lowerMaskedFill,
	graph.OpMaxPool2d:         lowerPool2d,
	graph.OpAvgPool2d:         lowerPool2d,
	graph.OpAdaptiveAvgPool2d: lowerAdaptiveAvgPool2d,
	graph.OpReshape:           lowerReshape,
	graph.OpPermute:           lowerPermute,
	graph.OpSlice:             lowerSlice,
	graph.OpSelect:            lowerSelect,
	graph.OpCat:               lowerCat,
	graph.OpReduce:            lowerReduce,
	graph.OpAttention:         lowerAttention,
	graph.OpCast:              lowerCast,
}

// lowering builds one Lowered.
type lowering struct {
	out      *Lowered
	place    func(v *graph.Value) (Ref, error)
	constIdx map[*graph.Value]int
	node     *graph.Node
}

func newLowering(place func(v *graph.Value) (Ref, error)) *lowering {
	return &lowering{out: &Lowered{}, place: place, constIdx: map[*graph.Value]int{}}
}

// Lower lowers a graph whose constants are folded and whose memory is planned (g.Plan):
// the arena holds the plan's slab, then the model inputs, then the bool values.
func Lower(g *graph.Graph) (*Lowered, error) {
	if g.Plan == nil {
		return nil, fmt.Errorf("%w: graph without a memory plan", errLayout)
	}
	slab := alignUp(int64(g.Plan.Size) * 4)
	at := slab
	inputs := make([]Binding, len(g.Inputs))
	for i, v := range g.Inputs {
		b, err := binding(v, Ref{Space: SpaceArena, Off: at})
		if err != nil {
			return nil, err
		}
		inputs[i] = b
		at += alignUp(b.Bytes)
	}
	bools := map[int]int64{}
	l := newLowering(func(v *graph.Value) (Ref, error) {
		root := g.Plan.Root[v.ID]
		if root == nil {
			root = v
		}
		if root.Input >= 0 {
			return inputs[root.Input].Ref, nil
		}
		switch v.DType {
		case torchscript.Float32:
			off := g.Plan.Offset[root.ID]
			if off < 0 {
				return Ref{}, fmt.Errorf("%w: value %d has no planned buffer", errLayout, v.ID)
			}
			return Ref{Space: SpaceArena, Off: int64(off) * 4}, nil
		case torchscript.Bool:
			off, ok := bools[root.ID]
			if !ok {
				off = at
				bools[root.ID] = off
				at += alignUp(int64(root.Numel()))
			}
			return Ref{Space: SpaceArena, Off: off}, nil
		}
		return Ref{}, fmt.Errorf("%w: %s values computed at run time", ErrUnsupported, v.DType)
	})
	l.out.Inputs = inputs
	if err := l.nodes(g.Nodes); err != nil {
		return nil, err
	}
	if err := l.outputs(g.Outputs); err != nil {
		return nil, err
	}
	l.out.ArenaBytes = at
	return l.out, nil
}

// LowerNode lowers one node for constant folding: its outputs get fresh arena space and
// are the Lowered's outputs.
func LowerNode(n *graph.Node) (*Lowered, error) {
	var at int64
	l := newLowering(func(v *graph.Value) (Ref, error) {
		b, err := binding(v, Ref{Space: SpaceArena, Off: at})
		if err != nil {
			return Ref{}, err
		}
		at += alignUp(b.Bytes)
		return b.Ref, nil
	})
	placed := map[*graph.Value]Ref{}
	inner := l.place
	l.place = func(v *graph.Value) (Ref, error) { // each output once
		if r, ok := placed[v]; ok {
			return r, nil
		}
		r, err := inner(v)
		placed[v] = r
		return r, err
	}
	if err := l.nodes([]*graph.Node{n}); err != nil {
		return nil, err
	}
	if err := l.outputs(n.Out); err != nil {
		return nil, err
	}
	l.out.ArenaBytes = at
	return l.out, nil
}

// binding describes value v placed at r.
func binding(v *graph.Value, r Ref) (Binding, error) {
	size := map[graph.DType]int64{torchscript.Float32: 4, torchscript.Int64: 8, torchscript.Bool: 1}[v.DType]
	if size == 0 {
		return Binding{}, fmt.Errorf("%w: %s tensors", ErrUnsupported, v.DType)
	}
	return Binding{Ref: r, DType: v.DType, Shape: v.Shape, Bytes: int64(v.Numel()) * size}, nil
}

func (l *lowering) nodes(nodes []*graph.Node) error {
	for _, n := range nodes {
		f := lowerers[n.Op]
		if f == nil {
			return fmt.Errorf("%s: %w: op %s on the GPU", n.Pos, ErrUnsupported, n.Op)
		}
		l.node = n
		if err := f(l, n); err != nil {
			return fmt.Errorf("%s: %s: %w", n.Pos, n.Op, err)
		}
	}
	return nil
}

func (l *lowering) outputs(vs []*graph.Value) error {
	for _, v := range vs {
		r, err := l.ref(v)
		if err != nil {
			return err
		}
		b, err := binding(v, r)
		if err != nil {
			return err
		}
		l.out.Outputs = append(l.out.Outputs, b)
	}
	return nil
}

// ref locates a value; nil (an absent operand) is a nil pointer.
func (l *lowering) ref(v *graph.Value) (Ref, error) {
	if v == nil {
		return Ref{}, nil
	}
	if v.Const != nil {
		i, ok := l.constIdx[v]
		if !ok {
			c, err := constant(v.Const, v.Source, 0)
			if err != nil {
				return Ref{}, err
			}
			i = l.addConst(c)
			l.constIdx[v] = i
		}
		return Ref{Space: SpaceConst, Index: i}, nil
	}
	return l.place(v)
}

// addConst appends a constant and returns its index.
func (l *lowering) addConst(c Const) int {
	l.out.Consts = append(l.out.Consts, c)
	return len(l.out.Consts) - 1
}

// constant makes the Const of host data from source, scaled with the given hash.
func constant(data any, source *torchscript.Tensor, scale uint64) (Const, error) {
	b, err := hostBytes(data)
	if err != nil {
		return Const{}, err
	}
	k := ConstKey{Source: source, Scale: scale}
	if source == nil {
		k.Data = unsafe.Pointer(unsafe.SliceData(b))
	}
	return Const{Data: data, Key: k}, nil
}

// refs locates several values.
func (l *lowering) refs(vs ...*graph.Value) ([]Ref, error) {
	out := make([]Ref, len(vs))
	for i, v := range vs {
		r, err := l.ref(v)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// meta stores shape/stride words and returns where they are.
func (l *lowering) meta(words ...int64) Ref {
	r := Ref{Space: SpaceMeta, Off: int64(len(l.out.Meta)) * 8}
	l.out.Meta = append(l.out.Meta, words...)
	return r
}

// scratch reserves a temporary of the given bytes for the current node.
func (l *lowering) scratch(bytes int64) Ref {
	l.out.ScratchBytes = max(l.out.ScratchBytes, bytes)
	return Ref{Space: SpaceScratch}
}

func (l *lowering) kernel(name kernels.Name, launch kernels.Launch, args ...Arg) {
	l.out.Steps = append(l.out.Steps, Step{Kernel: &Kernel{Name: name, Launch: launch, Args: args}, Node: l.node})
}

// elementwise launches a grid-stride kernel sized for n elements (the kernel's n is
// among args).
func (l *lowering) elementwise(name kernels.Name, n int, args ...Arg) {
	l.kernel(name, kernels.Elementwise(int64(n)), args...)
}

func (l *lowering) gemm(g Gemm) {
	l.out.Steps = append(l.out.Steps, Step{Gemm: &g, Node: l.node})
}
