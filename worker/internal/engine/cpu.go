package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/torchgate/torchgate/worker/internal/cpu"
	"github.com/torchgate/torchgate/worker/internal/graph"
	"github.com/torchgate/torchgate/worker/internal/tensor"
	"github.com/torchgate/torchgate/worker/internal/torchscript"
)

// CPU is the CPU backend: kernels from package cpu on a fixed thread pool. Weights are
// packed once per backend: graphs prepared for several input shapes share the packings of
// weights that come from the same archive tensors (see graph.Value.Source), and once a
// weight is packed its memory-mapped archive pages are evicted (torchscript.Storage.Evict),
// so a loaded model holds about one copy of its weights.
type CPU struct {
	eng *cpu.Engine

	mu      sync.Mutex
	convs   map[convKey]*cpu.ConvWeights               // guarded by mu
	linears map[*torchscript.Tensor]*cpu.LinearWeights // guarded by mu
}

// convKey identifies a packed convolution weight: the archive tensor, the groups and the
// folded per-channel scales (their bytes; "" when unscaled).
type convKey struct {
	src    *torchscript.Tensor
	groups int
	scale  string
}

var _ Backend = (*CPU)(nil)

// NewCPU returns a CPU backend using opts.Threads threads.
func NewCPU(opts Options) *CPU {
	return &CPU{
		eng:     cpu.New(cpu.Options{Threads: opts.Threads}),
		convs:   map[convKey]*cpu.ConvWeights{},
		linears: map[*torchscript.Tensor]*cpu.LinearWeights{},
	}
}

// Close stops the kernel threads.
func (c *CPU) Close() { c.eng.Close() }

// cpuProgram is a graph prepared for the CPU: tensor headers for every value (runtime
// values point into one slab), and one step per node.
type cpuProgram struct {
	be    *CPU
	g     *graph.Graph
	f32   []*tensor.Tensor // by value ID
	i64   []*tensor.Int64
	bools []*tensor.Bool
	// inF32 and inI64 list, per model input, the headers that alias its data.
	inF32 [][]*tensor.Tensor
	inI64 [][]*tensor.Int64
	steps []func() error
}

// Prepare folds constants, plans memory and compiles one step per node.
func (c *CPU) Prepare(g *graph.Graph) (Program, error) {
	p := &cpuProgram{be: c, g: g}
	p.grow()
	err := graph.FoldConstants(g, func(n *graph.Node) error {
		for _, o := range n.Out {
			if err := p.freshHeader(o, n); err != nil {
				return err
			}
		}
		step, err := p.compile(n)
		if err != nil {
			return err
		}
		if err := step(); err != nil {
			return err
		}
		for _, o := range n.Out {
			o.Const = p.header(o)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	plan := graph.PlanMemory(g)
	g.Plan = plan
	p.grow()
	slab := make([]float32, plan.Size)
	p.inF32 = make([][]*tensor.Tensor, len(g.Inputs))
	p.inI64 = make([][]*tensor.Int64, len(g.Inputs))
	for _, v := range p.values() {
		if err := p.plannedHeader(v, slab); err != nil {
			return nil, err
		}
	}
	for _, n := range g.Nodes {
		step, err := p.compile(n)
		if err != nil {
			return nil, posErr(n, err)
		}
		p.steps = append(p.steps, step)
	}
	return p, nil
}

func posErr(n *graph.Node, err error) error { return fmt.Errorf("%s: %s: %w", n.Pos, n.Op, err) }

// grow sizes the header tables to the graph's value count.
func (p *cpuProgram) grow() {
	n := p.g.NumValues()
	for len(p.f32) < n {
		p.f32 = append(p.f32, nil)
		p.i64 = append(p.i64, nil)
		p.bools = append(p.bools, nil)
	}
}

// values returns every value the graph uses, each once.
func (p *cpuProgram) values() []*graph.Value {
	seen := make([]bool, p.g.NumValues())
	var out []*graph.Value
	add := func(v *graph.Value) {
		if v != nil && !seen[v.ID] {
			seen[v.ID] = true
			out = append(out, v)
		}
	}
	for _, v := range p.g.Inputs {
		add(v)
	}
	for _, n := range p.g.Nodes {
		for _, v := range n.In {
			add(v)
		}
		for _, v := range n.Out {
			add(v)
		}
	}
	for _, v := range p.g.Outputs {
		add(v)
	}
	return out
}

// header returns a value's tensor header as the data type it has.
func (p *cpuProgram) header(v *graph.Value) any {
	switch v.DType {
	case torchscript.Int64:
		return p.i64[v.ID]
	case torchscript.Bool:
		return p.bools[v.ID]
	}
	return p.f32[v.ID]
}

// setConst installs a constant's data as its header.
func (p *cpuProgram) setConst(v *graph.Value) {
	switch c := v.Const.(type) {
	case *tensor.Tensor:
		p.f32[v.ID] = c
	case *tensor.Int64:
		p.i64[v.ID] = c
	case *tensor.Bool:
		p.bools[v.ID] = c
	}
}

// freshHeader gives a node output being constant-folded its own memory (a reshape shares
// its input's).
func (p *cpuProgram) freshHeader(o *graph.Value, n *graph.Node) error {
	for _, in := range n.In {
		if in != nil {
			p.setConst(in)
		}
	}
	if n.Op == graph.OpReshape {
		return p.alias(o, n.In[0])
	}
	switch o.DType {
	case torchscript.Int64:
		p.i64[o.ID] = &tensor.Int64{Shape: o.Shape, Data: make([]int64, o.Numel())}
	case torchscript.Bool:
		b, err := tensor.NewBool(o.Shape...)
		if err != nil {
			return err
		}
		p.bools[o.ID] = b
	default:
		t, err := tensor.New(o.Shape...)
		if err != nil {
			return err
		}
		p.f32[o.ID] = t
	}
	return nil
}

// alias makes o's header share src's data.
func (p *cpuProgram) alias(o, src *graph.Value) error {
	switch o.DType {
	case torchscript.Int64:
		p.i64[o.ID] = &tensor.Int64{Shape: o.Shape, Data: p.i64[src.ID].Data}
	case torchscript.Bool:
		p.bools[o.ID] = &tensor.Bool{Shape: o.Shape, Data: p.bools[src.ID].Data}
	default:
		p.f32[o.ID] = &tensor.Tensor{Shape: o.Shape, Data: p.f32[src.ID].Data}
	}
	return nil
}

// plannedHeader makes the header of a value after memory planning.
func (p *cpuProgram) plannedHeader(v *graph.Value, slab []float32) error {
	if v.Const != nil {
		p.setConst(v)
		return nil
	}
	root := p.g.Plan.Root[v.ID]
	if root == nil {
		root = v
	}
	if root.Input >= 0 {
		switch v.DType {
		case torchscript.Int64:
			h := &tensor.Int64{Shape: v.Shape}
			p.i64[v.ID] = h
			p.inI64[root.Input] = append(p.inI64[root.Input], h)
		case torchscript.Float32:
			h := &tensor.Tensor{Shape: v.Shape}
			p.f32[v.ID] = h
			p.inF32[root.Input] = append(p.inF32[root.Input], h)
		default:
			return fmt.Errorf("%w: %s input", ErrInput, v.DType)
		}
		return nil
	}
	switch v.DType {
	case torchscript.Float32:
		off := p.g.Plan.Offset[root.ID]
		if off < 0 {
			return fmt.Errorf("%w: value %d has no buffer", ErrInternal, v.ID)
		}
		n := v.Numel()
		p.f32[v.ID] = &tensor.Tensor{Shape: v.Shape, Data: slab[off : off+n : off+n]}
	case torchscript.Bool:
		if root != v {
			if p.bools[root.ID] == nil {
				if err := p.plannedHeader(root, slab); err != nil {
					return err
				}
			}
			return p.alias(v, root)
		}
		b, err := tensor.NewBool(v.Shape...)
		if err != nil {
			return err
		}
		p.bools[v.ID] = b
	default:
		return fmt.Errorf("%w: int64 tensors computed at run time", ErrUnsupported)
	}
	return nil
}

// Run binds the inputs, runs every step and copies the outputs out.
func (p *cpuProgram) Run(ctx context.Context, inputs []Tensor, outs []Tensor) error {
	for i, in := range inputs {
		for _, h := range p.inF32[i] {
			h.Data = in.Float32
		}
		for _, h := range p.inI64[i] {
			h.Data = in.Int64
		}
	}
	defer p.unbind()
	for i, step := range p.steps {
		if i%16 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := step(); err != nil {
			if errors.Is(err, cpu.ErrIndex) { // token ids out of range come from the input
				err = fmt.Errorf("%w: %w", ErrInput, err)
			}
			return posErr(p.g.Nodes[i], err)
		}
	}
	for i, o := range p.g.Outputs {
		outs[i] = p.output(o)
	}
	return nil
}

// unbind drops references to the caller's input data.
func (p *cpuProgram) unbind() {
	for i := range p.inF32 {
		for _, h := range p.inF32[i] {
			h.Data = nil
		}
		for _, h := range p.inI64[i] {
			h.Data = nil
		}
	}
}

// output copies one output value into a fresh Tensor (bool outputs become 0/1 floats).
func (p *cpuProgram) output(o *graph.Value) Tensor {
	t := Tensor{Shape: append([]int(nil), o.Shape...)}
	switch h := p.header(o).(type) {
	case *tensor.Tensor:
		t.Float32 = append(make([]float32, 0, len(h.Data)), h.Data...)
	case *tensor.Int64:
		t.Int64 = append(make([]int64, 0, len(h.Data)), h.Data...)
	case *tensor.Bool:
		t.Float32 = make([]float32, len(h.Data))
		for i, b := range h.Data {
			if b {
				t.Float32[i] = 1
			}
		}
	}
	return t
}
