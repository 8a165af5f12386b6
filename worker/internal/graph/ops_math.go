package graph

import (
	"fmt"
	"slices"

	"github.com/torchgate/torchgate/worker/internal/tensor"
	ts "github.com/torchgate/torchgate/worker/internal/torchscript"
)

func mathOps() map[string]*opDef {
	m := map[string]*opDef{}
	for _, v := range []struct {
		name    string
		kind    BinaryKind
		inplace bool
	}{
		{"add", BinAdd, false}, {"add_", BinAdd, true}, {"sub", BinSub, false}, {"sub_", BinSub, true},
		{"rsub", BinRsub, false},
	} {
		m[v.name] = op("self, other, alpha=1", func(b *builder, c *opCall) (any, error) {
			if l, ok := c.a[0].([]any); ok && v.kind == BinAdd {
				r, ok := c.a[1].([]any)
				if !ok {
					return nil, c.errArg(1, "list")
				}
				return append(append([]any{}, l...), r...), nil
			}
			alpha, err := c.float(2)
			if err != nil {
				return nil, err
			}
			return b.arith(c, v.kind, c.a[0], c.a[1], alpha, v.inplace)
		})
	}
	for _, v := range []struct {
		name    string
		inplace bool
	}{{"mul", false}, {"mul_", true}} {
		m[v.name] = op("self, other", func(b *builder, c *opCall) (any, error) {
			return b.arith(c, BinMul, c.a[0], c.a[1], 1, v.inplace)
		})
	}
	for _, v := range []struct {
		name    string
		inplace bool
	}{{"div", false}, {"div_", true}} {
		m[v.name] = op("self, other, rounding_mode=None", func(b *builder, c *opCall) (any, error) {
			kind := BinDiv
			switch c.a[2] {
			case nil:
			case "trunc":
				kind = BinDivTrunc
			case "floor":
				kind = BinDivFloor
			default:
				return nil, c.errArg(2, "rounding mode None, 'trunc' or 'floor'")
			}
			return b.arith(c, kind, c.a[0], c.a[1], 1, v.inplace)
		})
	}
	m["floordiv"] = op("self, other", func(b *builder, c *opCall) (any, error) {
		return b.arith(c, BinDivFloor, c.a[0], c.a[1], 1, false)
	})
	m["neg"] = op("self", func(b *builder, c *opCall) (any, error) {
		return b.arith(c, BinMul, c.a[0], int64(-1), 1, false)
	})
	for name, act := range map[string]Activation{
		"relu": ActReLU, "relu_": ActReLU, "tanh": ActTanh, "tanh_": ActTanh,
		"sigmoid": ActSigmoid, "sigmoid_": ActSigmoid,
	} {
		inplace := name[len(name)-1] == '_'
		m[name] = op("self", func(b *builder, c *opCall) (any, error) {
			return b.activation(c, act, inplace)
		})
	}
	for _, name := range []string{"gelu", "gelu_"} {
		inplace := name == "gelu_"
		m[name] = op("self, approximate='none'", func(b *builder, c *opCall) (any, error) {
			switch c.a[1] {
			case "none":
				return b.activation(c, ActGELU, inplace)
			case "tanh":
				return b.activation(c, ActGELUTanh, inplace)
			}
			return nil, c.errArg(1, "'none' or 'tanh'")
		})
	}
	for name, cmp := range map[string]string{"gt": ">", "lt": "<", "eq": "==", "ge": ">=", "le": "<=", "ne": "!="} {
		m[name] = op("self, other", func(b *builder, c *opCall) (any, error) {
			return b.compare(c, cmp)
		})
	}
	m["masked_fill"] = op("self, mask, value", maskedFill)
	m["masked_fill_"] = op("self, mask, value", maskedFill)
	m["sum"] = op("", func(b *builder, c *opCall) (any, error) { return b.reduce(c, ReduceSum) })
	m["mean"] = op("", func(b *builder, c *opCall) (any, error) { return b.reduce(c, ReduceMean) })
	m["softmax"] = op("self, dim, dtype=None", func(b *builder, c *opCall) (any, error) { return b.softmax(c, false) })
	m["log_softmax"] = op("self, dim, dtype=None", func(b *builder, c *opCall) (any, error) { return b.softmax(c, true) })
	return m
}

// scalarOp names the build-time operator of a binary kind.
var scalarOp = map[BinaryKind]string{
	BinAdd: "+", BinSub: "-", BinRsub: "-", BinMul: "*", BinDiv: "/", BinDivTrunc: "trunc", BinDivFloor: "floor",
}

// arith builds a binary arithmetic op. Numbers and 0-dim constants are computed at build
// time; otherwise a node is added. Following PyTorch's promotion, a Python number or 0-dim
// tensor operand takes the dtype of the dimensioned tensor operand (float32).
func (b *builder) arith(c *opCall, kind BinaryKind, x, y any, alpha float64, inplace bool) (any, error) {
	sx, tx, okx := scalar(x)
	sy, ty, oky := scalar(y)
	if okx && oky {
		if kind == BinRsub {
			sx, sy = sy, sx
		}
		if alpha != 1 {
			var err error
			if sy, err = scalarArith("*", alpha, sy); err != nil {
				return nil, err
			}
		}
		r, err := scalarArith(scalarOp[kind], sx, sy)
		if err != nil {
			return nil, err
		}
		return b.wrapScalar(r, tx || ty), nil
	}
	xv, err := b.floatOperand(c, 0, x)
	if err != nil {
		return nil, err
	}
	yv, err := b.floatOperand(c, 1, y)
	if err != nil {
		return nil, err
	}
	shape, err := tensor.BroadcastShapes(xv.Shape, yv.Shape)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrModel, c.name, err)
	}
	out := b.g.add(OpBinary, c.pos, Binary{Kind: kind, Alpha: float32(alpha)}, []*Value{xv, yv}, ts.Float32, shape).Out[0]
	if inplace {
		b.replace(x, out)
	}
	return out, nil
}

// replace records that an in-place op overwrote x with out.
func (b *builder) replace(x any, out *Value) {
	if v, ok := x.(*Value); ok {
		b.replaced[v] = out
	}
}

// floatOperand turns a tensor operand, a Python number or a 0-dim constant into a Float32
// value (numbers become 0-dim constants).
func (b *builder) floatOperand(c *opCall, i int, x any) (*Value, error) {
	if v, ok := x.(*Value); ok {
		switch {
		case v.DType == ts.Float32:
			return v, nil
		case v.Const != nil:
			return b.g.newConst(constToFloat(v.Const)), nil
		}
		return nil, fmt.Errorf("%w: %s of a %s tensor, want float32", ErrInput, c.name, v.DType)
	}
	f, ok := toFloat(x)
	if !ok {
		return nil, c.errArg(i, "Tensor or number")
	}
	return b.g.newConst(&tensor.Tensor{Shape: []int{}, Data: []float32{float32(f)}}), nil
}

// constToFloat converts integer or bool constant data to float32.
func constToFloat(c any) *tensor.Tensor {
	switch x := c.(type) {
	case *tensor.Int64:
		d := make([]float32, len(x.Data))
		for i, v := range x.Data {
			d[i] = float32(v)
		}
		return &tensor.Tensor{Shape: x.Shape, Data: d}
	case *tensor.Bool:
		d := make([]float32, len(x.Data))
		for i, v := range x.Data {
			if v {
				d[i] = 1
			}
		}
		return &tensor.Tensor{Shape: x.Shape, Data: d}
	}
	return c.(*tensor.Tensor)
}

// floatTensor returns argument i as a Float32 tensor value.
func (b *builder) floatTensor(c *opCall, i int) (*Value, error) {
	v, err := c.tensor(i)
	if err != nil {
		return nil, err
	}
	return b.floatOperand(c, i, v)
}

func (b *builder) activation(c *opCall, act Activation, inplace bool) (any, error) {
	x, err := b.floatTensor(c, 0)
	if err != nil {
		return nil, err
	}
	out := b.g.add(OpActivation, c.pos, act, []*Value{x}, ts.Float32, x.Shape).Out[0]
	if inplace {
		b.replace(c.a[0], out)
	}
	return out, nil
}

var compareKinds = map[string]CompareKind{">": CmpGT, "<": CmpLT, "==": CmpEQ}

func (b *builder) compare(c *opCall, cmp string) (any, error) {
	sx, tx, okx := scalar(c.a[0])
	sy, ty, oky := scalar(c.a[1])
	if okx && oky {
		r, err := scalarCompare(cmp, sx, sy)
		if err != nil {
			return nil, err
		}
		return b.wrapScalar(r, tx || ty), nil
	}
	kind, ok := compareKinds[cmp]
	if !ok {
		return nil, fmt.Errorf("%w: %s on runtime tensors", ErrUnsupported, c.name)
	}
	x, err := b.floatOperand(c, 0, c.a[0])
	if err != nil {
		return nil, err
	}
	y, err := b.floatOperand(c, 1, c.a[1])
	if err != nil {
		return nil, err
	}
	shape, err := tensor.BroadcastShapes(x.Shape, y.Shape)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrModel, c.name, err)
	}
	return b.g.add(OpCompare, c.pos, kind, []*Value{x, y}, ts.Bool, shape).Out[0], nil
}

func maskedFill(b *builder, c *opCall) (any, error) {
	x, err := b.floatTensor(c, 0)
	if err != nil {
		return nil, err
	}
	mask, err := c.tensor(1)
	if err != nil {
		return nil, err
	}
	if mask.DType != ts.Bool {
		return nil, c.errArg(1, "bool Tensor")
	}
	if _, err := tensor.BroadcastStrides(mask.Shape, x.Shape); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrModel, c.name, err)
	}
	val, err := c.float(2)
	if err != nil {
		return nil, err
	}
	out := b.g.add(OpMaskedFill, c.pos, float32(val), []*Value{x, mask}, ts.Float32, x.Shape).Out[0]
	if c.name == "masked_fill_" {
		b.replace(c.a[0], out)
	}
	return out, nil
}

// reduce builds sum/mean: (self, dim=None, keepdim=False, dtype=None) or (self, dtype=None).
func (b *builder) reduce(c *opCall, kind ReduceKind) (any, error) {
	x, err := b.floatTensor(c, 0)
	if err != nil {
		return nil, err
	}
	var dims []int
	keep := false
	if len(c.a) > 1 {
		if _, isList := c.a[1].([]any); isList {
			if dims, err = c.ints(1, 0); err != nil {
				return nil, err
			}
			if len(c.a) > 2 {
				if keep, err = c.bool(2); err != nil {
					return nil, err
				}
			}
		}
	}
	if k, ok := c.kw["keepdim"].(bool); ok {
		keep = k
	}
	if d, ok := c.kw["dim"]; ok {
		if dims, err = intList(d, 0, func() error { return c.errArg(1, "int[]") }); err != nil {
			return nil, err
		}
	}
	if len(dims) == 0 {
		for i := range x.Shape {
			dims = append(dims, i)
		}
	}
	for i, d := range dims {
		if dims[i], err = normDim(d, len(x.Shape)); err != nil {
			return nil, err
		}
	}
	slices.Sort(dims)
	dims = slices.Compact(dims)
	var shape []int
	for i, s := range x.Shape {
		switch {
		case !slices.Contains(dims, i):
			shape = append(shape, s)
		case keep:
			shape = append(shape, 1)
		}
	}
	return b.g.add(OpReduce, c.pos, Reduce{Kind: kind, Dims: dims, KeepDim: keep}, []*Value{x}, ts.Float32, shape).Out[0], nil
}

func (b *builder) softmax(c *opCall, log bool) (any, error) {
	x, err := b.floatTensor(c, 0)
	if err != nil {
		return nil, err
	}
	d, err := c.int(1)
	if err != nil {
		return nil, err
	}
	if d, err = normDim(d, max(len(x.Shape), 1)); err != nil {
		return nil, err
	}
	if c.a[2] != nil {
		if dt, ok := toInt(c.a[2]); !ok || !ts.DType(dt).IsFloat() {
			return nil, c.errArg(2, "a float dtype")
		}
	}
	return b.g.add(OpSoftmax, c.pos, Softmax{Dim: d, Log: log}, []*Value{x}, ts.Float32, x.Shape).Out[0], nil
}
