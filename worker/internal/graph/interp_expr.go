package graph

import (
	"fmt"
	"strconv"
	"strings"

	ts "github.com/torchgate/torchgate/worker/internal/torchscript"
)

// eval evaluates an expression to a build-time value or a *Value.
func (b *builder) eval(f *frame, e ts.Expr) (any, error) {
	switch e := e.(type) {
	case *ts.ConstExpr:
		return e.Value, nil
	case *ts.NameExpr:
		if v, ok := f.vars[e.Name]; ok {
			if tv, ok := v.(*Value); ok {
				return b.current(tv), nil
			}
			return v, nil
		}
		return nil, posError(e.Pos, fmt.Errorf("%w: undefined name %s", ErrModel, e.Name))
	case *ts.AttributeExpr:
		return b.evalAttr(f, e)
	case *ts.CallExpr:
		return b.evalCall(f, e)
	case *ts.TupleExpr:
		items, err := b.evalList(f, e.Elts)
		return tuple(items), err
	case *ts.ListExpr:
		return b.evalList(f, e.Elts)
	case *ts.SubscriptExpr:
		return b.evalSubscript(f, e)
	case *ts.UnaryExpr:
		x, err := b.eval(f, e.X)
		if err != nil {
			return nil, err
		}
		return b.unary(e.Pos, e.Op, x)
	case *ts.BinaryExpr:
		x, err := b.eval(f, e.X)
		if err != nil {
			return nil, err
		}
		y, err := b.eval(f, e.Y)
		if err != nil {
			return nil, err
		}
		return b.binaryOperator(e.Pos, e.Op, x, y)
	case *ts.BoolExpr:
		x, err := b.evalCond(f, e.X)
		if err != nil {
			return nil, err
		}
		if (e.Op == "and") != x {
			return x, nil
		}
		return b.evalCond(f, e.Y)
	case *ts.CompareExpr:
		return b.evalCompare(f, e)
	case *ts.IfExpr:
		c, err := b.evalCond(f, e.Cond)
		if err != nil {
			return nil, err
		}
		if c {
			return b.eval(f, e.Then)
		}
		return b.eval(f, e.Else)
	}
	return nil, posError(e.Position(), fmt.Errorf("%w: expression %T", ErrUnsupported, e))
}

func (b *builder) evalList(f *frame, es []ts.Expr) ([]any, error) {
	out := make([]any, len(es))
	for i, x := range es {
		v, err := b.eval(f, x)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (b *builder) unary(pos ts.Pos, op string, x any) (any, error) {
	if op == "not" {
		c, ok := truth(x)
		if !ok {
			return nil, posError(pos, fmt.Errorf("%w: not of a runtime tensor", ErrUnsupported))
		}
		return !c, nil
	}
	s, fromTensor, ok := scalar(x)
	if !ok {
		return nil, posError(pos, fmt.Errorf("%w: unary %s on %s", ErrUnsupported, op, typeName(x)))
	}
	switch op {
	case "+":
		return x, nil
	case "-":
		r, err := scalarArith("-", int64(0), s)
		if err != nil {
			return nil, posError(pos, err)
		}
		return b.wrapScalar(r, fromTensor), nil
	}
	return nil, posError(pos, fmt.Errorf("%w: unary %s", ErrUnsupported, op))
}

func (b *builder) evalCompare(f *frame, e *ts.CompareExpr) (any, error) {
	vals, err := b.evalList(f, e.Operands)
	if err != nil {
		return nil, err
	}
	for i, op := range e.Ops {
		x, y := vals[i], vals[i+1]
		var r bool
		switch op {
		case "is", "is not":
			r = identical(x, y)
			if op == "is not" {
				r = !r
			}
		default:
			sx, _, okx := scalar(x)
			sy, _, oky := scalar(y)
			if !okx || !oky {
				return nil, posError(e.Pos, fmt.Errorf("%w: comparison %s on %s and %s", ErrUnsupported, op, typeName(x), typeName(y)))
			}
			if r, err = scalarCompare(op, sx, sy); err != nil {
				return nil, posError(e.Pos, err)
			}
		}
		if !r {
			return false, nil
		}
	}
	return true, nil
}

// identical is Python's "is" for the values TorchScript compares that way (mostly None).
func identical(x, y any) bool {
	if x == nil || y == nil {
		return x == nil && y == nil
	}
	switch a := x.(type) {
	case *Value:
		bv, ok := y.(*Value)
		return ok && a == bv
	case bool:
		bv, ok := y.(bool)
		return ok && a == bv
	}
	return false
}

func (b *builder) evalSubscript(f *frame, e *ts.SubscriptExpr) (any, error) {
	x, err := b.eval(f, e.X)
	if err != nil {
		return nil, err
	}
	idx, err := b.eval(f, e.Index)
	if err != nil {
		return nil, err
	}
	var items []any
	switch c := x.(type) {
	case []any:
		items = c
	case tuple:
		items = c
	case *ts.Dict:
		v, ok := c.Get(idx)
		if !ok {
			return nil, posError(e.Pos, fmt.Errorf("%w: key %v not in dict", ErrModel, idx))
		}
		return b.fromPickle(v)
	default:
		return nil, posError(e.Pos, fmt.Errorf("%w: subscript of %s", ErrUnsupported, typeName(x)))
	}
	i, ok := toInt(idx)
	if !ok {
		return nil, posError(e.Pos, fmt.Errorf("%w: index of type %s", ErrUnsupported, typeName(idx)))
	}
	if i < 0 {
		i += int64(len(items))
	}
	if i < 0 || i >= int64(len(items)) {
		return nil, posError(e.Pos, fmt.Errorf("%w: index %d out of range", ErrModel, i))
	}
	return items[i], nil
}

// evalAttr evaluates x.name: CONSTANTS.cN, module attributes, torch dtype names.
func (b *builder) evalAttr(f *frame, e *ts.AttributeExpr) (any, error) {
	if name, ok := ts.DottedName(e); ok {
		if n, found := strings.CutPrefix(name, "CONSTANTS.c"); found {
			return b.constant(e.Pos, n)
		}
		if dt, found := strings.CutPrefix(name, "torch."); found {
			if d, ok := torchDTypes[dt]; ok {
				return int64(d), nil
			}
		}
	}
	x, err := b.eval(f, e.X)
	if err != nil {
		return nil, err
	}
	obj, ok := x.(*ts.Object)
	if !ok {
		return nil, posError(e.Pos, fmt.Errorf("%w: attribute %s of %s", ErrUnsupported, e.Name, typeName(x)))
	}
	return b.objectAttr(e.Pos, obj, e.Name)
}

// constant returns CONSTANTS.cN.
func (b *builder) constant(pos ts.Pos, n string) (any, error) {
	i, err := strconv.Atoi(n)
	if err != nil || i < 0 || i >= len(b.arc.Constants) {
		return nil, posError(pos, fmt.Errorf("%w: CONSTANTS.c%s out of range", ErrModel, n))
	}
	v, err := b.fromPickle(b.arc.Constants[i])
	if err != nil {
		return nil, posError(pos, err)
	}
	return v, nil
}

// objectAttr returns a module attribute: a submodule, a parameter or buffer, a plain value,
// or a Final constant declared by the class.
func (b *builder) objectAttr(pos ts.Pos, obj *ts.Object, name string) (any, error) {
	if v, ok := obj.Attr(name); ok {
		r, err := b.fromPickle(v)
		if err != nil {
			return nil, posError(pos, err)
		}
		return r, nil
	}
	if cls, ok := b.arc.Class(obj.Class); ok {
		if a, ok := cls.Attr(name); ok && a.Final && a.Value != nil {
			return b.eval(&frame{vars: map[string]any{}}, a.Value)
		}
	}
	return nil, posError(pos, fmt.Errorf("%w: %s has no attribute %s", ErrModel, obj.Class, name))
}

// fromPickle converts an unpickled value into a build-time value.
func (b *builder) fromPickle(v any) (any, error) {
	switch x := v.(type) {
	case *ts.Tensor:
		return b.constValue(x)
	case ts.Tuple:
		out, err := b.fromPickleAll(x)
		return tuple(out), err
	case []any:
		return b.fromPickleAll(x)
	case []int64:
		return anys(x), nil
	case []float64:
		return anys(x), nil
	case []bool:
		return anys(x), nil
	case ts.Device:
		return string(x), nil
	}
	return v, nil
}

// fromPickleAll converts every element of an unpickled list or tuple.
func (b *builder) fromPickleAll(items []any) ([]any, error) {
	out := make([]any, len(items))
	for i, it := range items {
		c, err := b.fromPickle(it)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// anys boxes the elements of a typed list as build-time values.
func anys[T any](x []T) []any {
	out := make([]any, len(x))
	for i, it := range x {
		out[i] = it
	}
	return out
}

// torchDTypes maps torch.<name> dtype attributes to ScalarType numbers.
var torchDTypes = map[string]ts.DType{
	"float32": ts.Float32, "float": ts.Float32, "float64": ts.Float64, "double": ts.Float64,
	"float16": ts.Float16, "half": ts.Float16, "bfloat16": ts.BFloat16, "int64": ts.Int64,
	"long": ts.Int64, "int32": ts.Int32, "int": ts.Int32, "bool": ts.Bool, "uint8": ts.Uint8,
	"int8": ts.Int8, "int16": ts.Int16,
}
