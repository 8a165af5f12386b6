package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/torchgate/torchgate/worker/internal/graph"
	"github.com/torchgate/torchgate/worker/internal/tensor"
	"github.com/torchgate/torchgate/worker/internal/torchscript"
)

// maxPrograms is how many input shapes a Model keeps prepared graphs for.
const maxPrograms = 8

// DType is a tensor element type (PyTorch's ScalarType numbers).
type DType = torchscript.DType

// Tensor is a model input or output: row-major data in Float32 (float32 tensors) or Int64
// (int64 tensors, such as token ids); exactly one is set.
type Tensor struct {
	Shape   []int
	Float32 []float32
	Int64   []int64
}

// DType returns Int64 when Int64 data is set, else Float32.
func (t Tensor) DType() DType {
	if t.Int64 != nil {
		return torchscript.Int64
	}
	return torchscript.Float32
}

// Options configures Load. The zero value uses one thread per CPU.
type Options struct {
	// Threads is the number of threads the kernels use; 0 means runtime.NumCPU().
	Threads int
}

// IO describes one input or output.
type IO struct {
	// Name is forward's argument name (inputs) or "output_N".
	Name string
	// DType is Float32 or Int64.
	DType DType
	// Shape has -1 for the batch dimension and for sizes not known yet; nil when not even
	// the rank is known before the first Run.
	Shape []int
}

// Stats summarises a model for inspection.
type Stats struct {
	// OpCalls counts op call sites per forward in the code (see graph.Report).
	OpCalls map[string]int
	// Params and ParamBytes count the elements and stored bytes of every distinct tensor
	// the archive holds (parameters, buffers, constants).
	Params, ParamBytes int64
}

// Model is a loaded archive. It is safe for concurrent use; Runs are serialised.
type Model struct {
	arc     *torchscript.Archive
	report  *graph.Report
	backend Backend
	stats   Stats

	mu      sync.Mutex
	progs   []*program // most recently used last; guarded by mu
	outputs []IO       // from the last built graph; guarded by mu
	closed  bool
}

// program is a prepared graph for one list of input shapes.
type program struct {
	shapes [][]int
	dtypes []DType
	g      *graph.Graph
	prog   Program
}

// Load opens the archive at path and checks that every op it uses is supported (the error
// then is a *graph.UnsupportedError listing all of them). The model runs on the CPU.
func Load(path string, opts Options) (*Model, error) {
	arc, err := torchscript.Open(path)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	m, err := New(arc, NewCPU(opts))
	if err != nil {
		return nil, errors.Join(err, arc.Close())
	}
	return m, nil
}

// New makes a Model from an open archive and a backend; the Model owns both (New closes
// the backend when it fails; the caller closes the archive then).
func New(arc *torchscript.Archive, b Backend) (m *Model, err error) {
	defer func() {
		if r := recover(); r != nil { // last resort: Scan returns errors for bad code
			b.Close()
			m, err = nil, fmt.Errorf("%w: %v", ErrInternal, r)
		}
	}()
	rep, err := graph.Scan(arc)
	if err != nil {
		b.Close()
		return nil, err
	}
	m = &Model{arc: arc, report: rep, backend: b, stats: Stats{OpCalls: rep.OpCalls}}
	m.stats.Params, m.stats.ParamBytes = countParams(arc)
	return m, nil
}

// Close releases the backend and the archive. Runs after Close fail with ErrClosed.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	m.progs = nil
	m.backend.Close()
	return m.arc.Close()
}

// Stats returns op call counts and parameter counts.
func (m *Model) Stats() Stats { return m.stats }

// Inputs describes forward's arguments. Shapes come from the code (and from the last Run,
// with the batch dimension as -1).
func (m *Model) Inputs() []IO {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]IO, len(m.report.Inputs))
	for i, in := range m.report.Inputs {
		out[i] = IO{Name: in.Name, DType: in.DType, Shape: slices.Clone(in.Shape)}
	}
	if n := len(m.progs); n > 0 {
		p := m.progs[n-1]
		for i, s := range p.shapes {
			out[i].Shape, out[i].DType = batchFree(s), p.dtypes[i]
		}
	}
	return out
}

// Outputs describes the outputs of the last Run (nil before the first one: a traced
// model's outputs are only known for concrete inputs).
func (m *Model) Outputs() []IO {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.outputs)
}

// batchFree returns shape with its first dimension replaced by -1.
func batchFree(shape []int) []int {
	s := slices.Clone(shape)
	if len(s) > 0 {
		s[0] = -1
	}
	return s
}

// Run computes forward(inputs...). Inputs must be valid tensors of float32 or int64 data;
// errors wrap ErrInput when they do not fit the model.
func (m *Model) Run(ctx context.Context, inputs []Tensor) (outs []Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			outs, err = nil, fmt.Errorf("%w: %v", ErrInternal, r)
		}
	}()
	for i, in := range inputs {
		if err := checkInput(in); err != nil {
			return nil, fmt.Errorf("%w: input %d: %w", ErrInput, i, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	p, err := m.program(inputs)
	if err != nil {
		return nil, err
	}
	outs = make([]Tensor, len(p.g.Outputs))
	if err := p.prog.Run(ctx, inputs, outs); err != nil {
		return nil, err
	}
	return outs, nil
}

// checkInput validates one input tensor's data against its shape.
func checkInput(t Tensor) error {
	n := tensor.Numel(t.Shape)
	switch {
	case n < 0:
		return fmt.Errorf("invalid shape %v", t.Shape)
	case (t.Float32 == nil) == (t.Int64 == nil) && n > 0:
		return fmt.Errorf("need exactly one of Float32 and Int64 data")
	case t.Int64 != nil && len(t.Int64) != n, t.Int64 == nil && len(t.Float32) != n:
		return fmt.Errorf("shape %v does not match %d data elements", t.Shape, max(len(t.Float32), len(t.Int64)))
	}
	return nil
}

// program returns the prepared graph for the inputs' shapes, building it on a miss.
// m.mu must be held.
func (m *Model) program(inputs []Tensor) (*program, error) {
	for i := len(m.progs) - 1; i >= 0; i-- {
		if p := m.progs[i]; p.matches(inputs) {
			if i != len(m.progs)-1 {
				m.progs = append(append(m.progs[:i:i], m.progs[i+1:]...), p)
			}
			return p, nil
		}
	}
	specs := make([]graph.InputSpec, len(inputs))
	p := &program{}
	for i, in := range inputs {
		specs[i] = graph.InputSpec{Shape: in.Shape, DType: in.DType()}
		p.shapes = append(p.shapes, slices.Clone(in.Shape))
		p.dtypes = append(p.dtypes, in.DType())
	}
	g, err := graph.Build(m.arc, specs)
	if err != nil {
		return nil, err
	}
	if _, err := graph.FoldBatchNorm(g); err != nil {
		return nil, err
	}
	graph.Fuse(g)
	prog, err := m.backend.Prepare(g)
	if err != nil {
		return nil, err
	}
	if err := m.arc.Evict(); err != nil { // the weights are packed: drop the pages read
		return nil, err
	}
	p.g, p.prog = g, prog
	if len(m.progs) == maxPrograms {
		m.progs = m.progs[1:]
	}
	m.progs = append(m.progs, p)
	m.outputs = m.outputs[:0]
	for i, o := range g.Outputs {
		m.outputs = append(m.outputs, IO{Name: fmt.Sprintf("output_%d", i), DType: o.DType, Shape: batchFree(o.Shape)})
	}
	return p, nil
}

// matches reports whether the program was built for these input shapes and dtypes.
func (p *program) matches(inputs []Tensor) bool {
	if len(inputs) != len(p.shapes) {
		return false
	}
	for i, in := range inputs {
		if in.DType() != p.dtypes[i] || !slices.Equal(in.Shape, p.shapes[i]) {
			return false
		}
	}
	return true
}

// countParams counts the distinct tensors of the module tree and the constants.
func countParams(arc *torchscript.Archive) (elems, bytes int64) {
	seen := map[*torchscript.Tensor]bool{}
	seenObj := map[*torchscript.Object]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case *torchscript.Tensor:
			if !seen[x] {
				seen[x] = true
				elems += int64(x.Numel())
				bytes += int64(x.Numel() * x.DType.Size())
			}
		case *torchscript.Object:
			if !seenObj[x] {
				seenObj[x] = true
				for _, k := range x.Order {
					walk(x.Attrs[k])
				}
			}
		case torchscript.Tuple:
			for _, it := range x {
				walk(it)
			}
		case []any:
			for _, it := range x {
				walk(it)
			}
		case []*torchscript.Tensor:
			for _, it := range x {
				walk(it)
			}
		}
	}
	walk(arc.Module)
	walk(arc.Constants)
	return elems, bytes
}
