package graph

import (
	"fmt"

	"github.com/torchgate/torchgate/worker/internal/tensor"
	"github.com/torchgate/torchgate/worker/internal/torchscript"
)

// Limits that keep a hostile archive from making Build loop or recurse without end.
const (
	maxDepth = 200     // nested function calls
	maxSteps = 1 << 20 // statements executed in one build
)

// InputSpec describes one model input for Build.
type InputSpec struct {
	Shape []int
	DType DType
}

// tuple is a Python tuple value during interpretation; lists are []any.
type tuple []any

// builder interprets an archive's forward into a Graph.
type builder struct {
	arc      *torchscript.Archive
	g        *Graph
	consts   map[*torchscript.Tensor]*Value
	replaced map[*Value]*Value // in-place ops: old value → the value that replaced it
	depth    int
	steps    int
}

// frame is one function activation.
type frame struct {
	vars map[string]any
}

// Build interprets the root module's forward for inputs of the given shapes and dtypes and
// returns the graph. The archive must have passed Scan. Errors wrap ErrInput (inputs that do
// not fit), ErrModel (the model rejects them) or ErrUnsupported.
func Build(arc *torchscript.Archive, inputs []InputSpec) (g *Graph, err error) {
	fn, err := rootForward(arc)
	if err != nil {
		return nil, err
	}
	b := &builder{arc: arc, g: &Graph{}, consts: map[*torchscript.Tensor]*Value{}, replaced: map[*Value]*Value{}}
	params := fn.Params[1:]
	if len(inputs) > len(params) || len(inputs) < requiredParams(params) {
		return nil, fmt.Errorf("%w: %d inputs, forward takes %d", ErrInput, len(inputs), len(params))
	}
	args := make([]any, len(inputs))
	for i, in := range inputs {
		if in.DType != torchscript.Float32 && in.DType != torchscript.Int64 {
			return nil, fmt.Errorf("%w: input %d has dtype %s, want float32 or int64", ErrInput, i, in.DType)
		}
		if tensor.Numel(in.Shape) < 0 {
			return nil, fmt.Errorf("%w: input %d shape %v", ErrInput, i, in.Shape)
		}
		v := b.g.newValue(in.Shape, in.DType)
		v.Input = i
		b.g.Inputs = append(b.g.Inputs, v)
		args[i] = v
	}
	res, err := b.callFunc(fn, arc.Module, args, nil, fn.Pos)
	if err != nil {
		return nil, err
	}
	outs, err := b.flattenOutputs(res)
	if err != nil {
		return nil, posError(fn.Pos, err)
	}
	b.g.Outputs = outs
	return b.g, nil
}

// rootForward returns the root module's forward method.
func rootForward(arc *torchscript.Archive) (*torchscript.FuncDef, error) {
	if arc == nil || arc.Module == nil {
		return nil, fmt.Errorf("%w: archive has no root module", ErrModel)
	}
	cls, ok := arc.Class(arc.Module.Class)
	if !ok {
		return nil, fmt.Errorf("%w: no code for root class %s", ErrModel, arc.Module.Class)
	}
	fn, ok := cls.Method("forward")
	if !ok || len(fn.Params) == 0 {
		return nil, fmt.Errorf("%w: root class %s has no forward(self, ...)", ErrModel, arc.Module.Class)
	}
	return fn, nil
}

// requiredParams counts the leading parameters without a default.
func requiredParams(ps []*torchscript.Param) int {
	n := 0
	for _, p := range ps {
		if p.Default == nil {
			n++
		}
	}
	return n
}

// flattenOutputs turns forward's result (a tensor or a tuple/list of tensors) into values.
func (b *builder) flattenOutputs(res any) ([]*Value, error) {
	switch r := res.(type) {
	case *Value:
		return []*Value{b.current(r)}, nil
	case tuple:
		return b.flattenList(r)
	case []any:
		return b.flattenList(r)
	}
	return nil, fmt.Errorf("%w: forward returns %s, want tensors", ErrUnsupported, typeName(res))
}

func (b *builder) flattenList(items []any) ([]*Value, error) {
	var out []*Value
	for _, it := range items {
		vs, err := b.flattenOutputs(it)
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	return out, nil
}

// current follows in-place replacements: after relu_(x), x names relu_'s result.
func (b *builder) current(v *Value) *Value {
	for {
		n, ok := b.replaced[v]
		if !ok {
			return v
		}
		v = n
	}
}

// callFunc runs fn with self (nil for a free function) and the given arguments.
func (b *builder) callFunc(fn *torchscript.FuncDef, self any, args []any, kw map[string]any, pos torchscript.Pos) (any, error) {
	if b.depth >= maxDepth {
		return nil, posError(pos, fmt.Errorf("%w: calls nested deeper than %d", ErrModel, maxDepth))
	}
	b.depth++
	defer func() { b.depth-- }()
	f := &frame{vars: map[string]any{}}
	params := fn.Params
	if self != nil {
		if len(params) == 0 {
			return nil, posError(fn.Pos, fmt.Errorf("%w: method %s without self", ErrModel, fn.Name))
		}
		f.vars[params[0].Name] = self
		params = params[1:]
	}
	if len(args) > len(params) {
		return nil, posError(pos, fmt.Errorf("%w: %s takes %d arguments, got %d", ErrModel, fn.Name, len(params), len(args)))
	}
	for i, p := range params {
		switch v, ok := kw[p.Name]; {
		case i < len(args):
			f.vars[p.Name] = args[i]
		case ok:
			f.vars[p.Name] = v
		case p.Default != nil:
			d, err := b.eval(f, p.Default)
			if err != nil {
				return nil, err
			}
			f.vars[p.Name] = d
		default:
			return nil, posError(pos, fmt.Errorf("%w: %s: missing argument %s", ErrModel, fn.Name, p.Name))
		}
	}
	res, ctl, err := b.execBlock(f, fn.Body)
	if err != nil {
		return nil, err
	}
	if ctl != ctlReturn {
		return nil, nil
	}
	return res, nil
}

// constValue converts an archive tensor (parameter, buffer or constant) to a constant value,
// once per tensor, with Source set. Floating-point data becomes float32; contiguous float32
// data is not copied.
func (b *builder) constValue(t *torchscript.Tensor) (*Value, error) {
	if v, ok := b.consts[t]; ok {
		return v, nil
	}
	var c any
	switch {
	case t.DType.IsFloat():
		data, ok := t.Float32View()
		if !ok {
			var err error
			if data, err = t.Float32(); err != nil {
				return nil, err
			}
		}
		c = &tensor.Tensor{Shape: t.Shape, Data: data}
	case t.DType == torchscript.Bool:
		ints, err := t.Int64()
		if err != nil {
			return nil, err
		}
		bs := make([]bool, len(ints))
		for i, x := range ints {
			bs[i] = x != 0
		}
		c = &tensor.Bool{Shape: t.Shape, Data: bs}
	default:
		ints, err := t.Int64()
		if err != nil {
			return nil, err
		}
		c = &tensor.Int64{Shape: t.Shape, Data: ints}
	}
	v := b.g.newConst(c)
	v.Source = t
	b.consts[t] = v
	return v, nil
}

// typeName names a build-time value's type for error messages.
func typeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case *Value:
		return "Tensor"
	case *torchscript.Object:
		return x.Class
	case int64:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bool"
	case string:
		return "str"
	case tuple:
		return "tuple"
	case []any:
		return "list"
	}
	return fmt.Sprintf("%T", v)
}
