package graph

import (
	"fmt"

	ts "github.com/torchgate/torchgate/worker/internal/torchscript"
)

func miscOps() map[string]*opDef {
	return map[string]*opDef{
		"size": op("", func(b *builder, c *opCall) (any, error) {
			x, err := c.tensor(0)
			if err != nil {
				return nil, err
			}
			if len(c.a) < 2 {
				out := make([]any, len(x.Shape))
				for i, s := range x.Shape {
					out[i] = int64(s)
				}
				return out, nil
			}
			d, err := c.int(1)
			if err != nil {
				return nil, err
			}
			if d, err = normDim(d, len(x.Shape)); err != nil {
				return nil, err
			}
			return int64(x.Shape[d]), nil
		}),
		"dim": op("self", func(b *builder, c *opCall) (any, error) {
			x, err := c.tensor(0)
			if err != nil {
				return nil, err
			}
			return int64(len(x.Shape)), nil
		}),
		"numel": op("self", func(b *builder, c *opCall) (any, error) {
			x, err := c.tensor(0)
			if err != nil {
				return nil, err
			}
			return int64(x.Numel()), nil
		}),
		"to":        op("", to),
		"__not__":   op("self", func(b *builder, c *opCall) (any, error) { return b.unary(c.pos, "not", c.a[0]) }),
		"__is__":    op("self, obj", func(b *builder, c *opCall) (any, error) { return identical(c.a[0], c.a[1]), nil }),
		"__isnot__": op("self, obj", func(b *builder, c *opCall) (any, error) { return !identical(c.a[0], c.a[1]), nil }),
	}
}

// to handles the overloads of Tensor.to: (dtype, ...), (device, dtype, ...), (other, ...).
// Floating-point targets are float32 in the graph; int64 stays int64.
func to(b *builder, c *opCall) (any, error) {
	x, err := c.tensor(0)
	if err != nil {
		return nil, err
	}
	target := x.DType
	if v, ok := c.kw["dtype"]; ok && v != nil {
		d, ok := toInt(v)
		if !ok {
			return nil, c.errArg(1, "dtype")
		}
		target = ts.DType(d)
	}
	for _, a := range c.a[1:] {
		if other, ok := a.(*Value); ok {
			target = other.DType
			break
		}
		if d, ok := a.(int64); ok {
			target = ts.DType(d)
			break
		}
		if _, ok := a.(string); !ok && a != nil {
			break
		}
	}
	switch {
	case target.IsFloat():
		if x.DType == ts.Float32 {
			return x, nil
		}
		if x.Const != nil {
			return b.g.newConst(constToFloat(x.Const)), nil
		}
		return b.g.add(OpCast, c.pos, nil, []*Value{x}, ts.Float32, x.Shape).Out[0], nil
	case target == x.DType:
		return x, nil
	}
	return nil, fmt.Errorf("%w: to(%s) of a %s tensor", ErrUnsupported, target, x.DType)
}

func primOps() map[string]*opDef {
	return map[string]*opDef{
		"NumToTensor": op("a", func(b *builder, c *opCall) (any, error) {
			s, _, ok := scalar(c.a[0])
			if !ok {
				return nil, c.errArg(0, "number")
			}
			return b.wrapScalar(s, true), nil
		}),
		"ListConstruct":  op("", func(_ *builder, c *opCall) (any, error) { return append([]any{}, c.a...), nil }),
		"TupleConstruct": op("", func(_ *builder, c *opCall) (any, error) { return tuple(append([]any{}, c.a...)), nil }),
		"TupleUnpack":    op("tup", func(_ *builder, c *opCall) (any, error) { return c.a[0], nil }),
		"ListUnpack":     op("l", func(_ *builder, c *opCall) (any, error) { return c.a[0], nil }),
		"unchecked_cast": op("x", func(_ *builder, c *opCall) (any, error) { return c.a[0], nil }),
		"device":         op("a", func(_ *builder, _ *opCall) (any, error) { return "cpu", nil }),
		"dtype": op("a", func(_ *builder, c *opCall) (any, error) {
			x, err := c.tensor(0)
			if err != nil {
				return nil, err
			}
			return int64(x.DType), nil
		}),
		"RaiseException": op("", func(_ *builder, c *opCall) (any, error) {
			return nil, fmt.Errorf("%w: the model raised an exception", ErrModel)
		}),
		"min": op("", func(b *builder, c *opCall) (any, error) { return minMax(c, true) }),
		"max": op("", func(b *builder, c *opCall) (any, error) { return minMax(c, false) }),
	}
}

// minMax is prim::min/max of numbers or of one int list.
func minMax(c *opCall, isMin bool) (any, error) {
	items := c.a
	if len(items) == 1 {
		l, ok := items[0].([]any)
		if !ok {
			return nil, c.errArg(0, "list")
		}
		items = l
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%w: %s of nothing", ErrModel, c.name)
	}
	best := items[0]
	for _, it := range items[1:] {
		sb, _, ok1 := scalar(best)
		si, _, ok2 := scalar(it)
		if !ok1 || !ok2 {
			return nil, c.errArg(0, "numbers")
		}
		less, err := scalarCompare("<", si, sb)
		if err != nil {
			return nil, err
		}
		if less == isMin {
			best = it
		}
	}
	return best, nil
}
