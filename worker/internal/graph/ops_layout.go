package graph

import (
	"fmt"
	"slices"

	"github.com/torchgate/torchgate/worker/internal/tensor"
	ts "github.com/torchgate/torchgate/worker/internal/torchscript"
)

func layoutOps() map[string]*opDef {
	viewOp := func(b *builder, c *opCall) (any, error) {
		x, err := c.tensor(0)
		if err != nil {
			return nil, err
		}
		shape, err := c.ints(1, 0)
		if err != nil {
			return nil, err
		}
		return b.reshape(c.pos, x, shape)
	}
	return map[string]*opDef{
		"view":    op("self, size", viewOp),
		"reshape": op("self, shape", viewOp),
		"flatten": op("self, start_dim=0, end_dim=-1", func(b *builder, c *opCall) (any, error) {
			x, err := c.tensor(0)
			if err != nil {
				return nil, err
			}
			r := max(len(x.Shape), 1)
			s, err1 := c.int(1)
			e, err2 := c.int(2)
			if err1 != nil || err2 != nil {
				return nil, c.errArg(1, "int")
			}
			if s, err = normDim(s, r); err != nil {
				return nil, err
			}
			if e, err = normDim(e, r); err != nil {
				return nil, err
			}
			if len(x.Shape) == 0 {
				return b.reshape(c.pos, x, []int{1})
			}
			if s > e {
				return nil, fmt.Errorf("%w: flatten start_dim %d after end_dim %d", ErrModel, s, e)
			}
			shape := append(slices.Clone(x.Shape[:s]), tensor.Numel(x.Shape[s:e+1]))
			return b.reshape(c.pos, x, append(shape, x.Shape[e+1:]...))
		}),
		"unsqueeze": op("self, dim", func(b *builder, c *opCall) (any, error) {
			x, err := c.tensor(0)
			if err != nil {
				return nil, err
			}
			d, err := c.int(1)
			if err != nil {
				return nil, err
			}
			if d, err = normDim(d, len(x.Shape)+1); err != nil {
				return nil, err
			}
			return b.reshape(c.pos, x, slices.Insert(slices.Clone(x.Shape), d, 1))
		}),
		"squeeze": op("", func(b *builder, c *opCall) (any, error) {
			x, err := c.tensor(0)
			if err != nil {
				return nil, err
			}
			var dims []int
			if len(c.a) > 1 {
				if dims, err = c.ints(1, 1); err != nil {
					return nil, err
				}
			} else if d, ok := c.kw["dim"]; ok {
				if dims, err = intList(d, 1, func() error { return c.errArg(1, "int") }); err != nil {
					return nil, err
				}
			} else {
				for i := range x.Shape {
					dims = append(dims, i)
				}
			}
			drop := map[int]bool{}
			for _, d := range dims {
				if d, err = normDim(d, max(len(x.Shape), 1)); err != nil {
					return nil, err
				}
				drop[d] = len(x.Shape) > 0 && x.Shape[d] == 1
			}
			var shape []int
			for i, s := range x.Shape {
				if !drop[i] {
					shape = append(shape, s)
				}
			}
			return b.reshape(c.pos, x, shape)
		}),
		"unflatten": op("self, dim, sizes", func(b *builder, c *opCall) (any, error) {
			x, d, err := c.tensorDim(0, 1)
			if err != nil {
				return nil, err
			}
			sizes, err := c.ints(2, 0)
			if err != nil {
				return nil, err
			}
			if sizes, err = inferShape(x.Shape[d], sizes); err != nil {
				return nil, err
			}
			shape := append(append(slices.Clone(x.Shape[:d]), sizes...), x.Shape[d+1:]...)
			return b.reshape(c.pos, x, shape)
		}),
		"contiguous":      op("self, memory_format=0", identity),
		"dropout":         op("input, p, train", dropout),
		"dropout_":        op("input, p, train", dropout),
		"feature_dropout": op("input, p, train", dropout),
		"alpha_dropout":   op("input, p, train", dropout),
		"detach":          op("self", identity),
		"clone":           op("self, memory_format=None", identity),
		"transpose": op("self, dim0, dim1", func(b *builder, c *opCall) (any, error) {
			x, err := c.tensor(0)
			if err != nil {
				return nil, err
			}
			d0, err1 := c.int(1)
			d1, err2 := c.int(2)
			if err1 != nil || err2 != nil {
				return nil, c.errArg(1, "int")
			}
			r := max(len(x.Shape), 1)
			if d0, err = normDim(d0, r); err != nil {
				return nil, err
			}
			if d1, err = normDim(d1, r); err != nil {
				return nil, err
			}
			perm := identityPerm(len(x.Shape))
			if len(perm) > 0 {
				perm[d0], perm[d1] = perm[d1], perm[d0]
			}
			return b.permute(c.pos, x, perm)
		}),
		"t": op("self", func(b *builder, c *opCall) (any, error) {
			x, err := c.tensor(0)
			if err != nil {
				return nil, err
			}
			if len(x.Shape) > 2 {
				return nil, fmt.Errorf("%w: t() of a %d-D tensor", ErrModel, len(x.Shape))
			}
			perm := identityPerm(len(x.Shape))
			slices.Reverse(perm)
			return b.permute(c.pos, x, perm)
		}),
		"permute": op("self, dims", func(b *builder, c *opCall) (any, error) {
			x, err := c.tensor(0)
			if err != nil {
				return nil, err
			}
			perm, err := c.ints(1, 0)
			if err != nil {
				return nil, err
			}
			if len(perm) != len(x.Shape) {
				return nil, fmt.Errorf("%w: permute %v of rank %d", ErrModel, perm, len(x.Shape))
			}
			seen := make([]bool, len(perm))
			for i, p := range perm {
				if perm[i], err = normDim(p, len(perm)); err != nil || seen[perm[i]] {
					return nil, fmt.Errorf("%w: permutation %v", ErrModel, perm)
				}
				seen[perm[i]] = true
			}
			return b.permute(c.pos, x, perm)
		}),
		"select": op("self, dim, index", func(b *builder, c *opCall) (any, error) {
			x, err := c.tensor(0)
			if err != nil {
				return nil, err
			}
			d, err1 := c.int(1)
			i, err2 := c.int(2)
			if err1 != nil || err2 != nil {
				return nil, c.errArg(1, "int")
			}
			if d, err = normDim(d, len(x.Shape)); err != nil {
				return nil, err
			}
			if i, err = normDim(i, x.Shape[d]); err != nil {
				return nil, fmt.Errorf("%w: select index out of range", ErrModel)
			}
			shape := slices.Delete(slices.Clone(x.Shape), d, d+1)
			return b.g.add(OpSelect, c.pos, Select{Dim: d, Index: i}, []*Value{x}, x.DType, shape).Out[0], nil
		}),
		"slice": op("self, dim=0, start=None, end=None, step=1", func(b *builder, c *opCall) (any, error) {
			x, d, err := c.tensorDim(0, 1)
			if err != nil {
				return nil, err
			}
			start, end := 0, x.Shape[d]
			if c.a[2] != nil {
				if start, err = c.int(2); err != nil {
					return nil, err
				}
			}
			if c.a[3] != nil {
				if end, err = c.int(3); err != nil {
					return nil, err
				}
			}
			step, err := c.int(4)
			if err != nil || step <= 0 {
				return nil, c.errArg(4, "a positive step")
			}
			return b.slice(c.pos, x, d, start, end, step), nil
		}),
		"chunk": op("self, chunks, dim=0", func(b *builder, c *opCall) (any, error) {
			x, err := c.tensor(0)
			if err != nil {
				return nil, err
			}
			n, err1 := c.int(1)
			d, err2 := c.int(2)
			if err1 != nil || err2 != nil || n <= 0 {
				return nil, c.errArg(1, "a positive int")
			}
			if d, err = normDim(d, len(x.Shape)); err != nil {
				return nil, err
			}
			size := (x.Shape[d] + n - 1) / n
			var out []any
			for s := 0; s < x.Shape[d] || (s == 0 && size == 0); s += max(size, 1) {
				out = append(out, b.slice(c.pos, x, d, s, s+size, 1))
			}
			return out, nil
		}),
		"cat": op("tensors, dim=0", func(b *builder, c *opCall) (any, error) {
			list, ok := c.a[0].([]any)
			if !ok || len(list) == 0 {
				return nil, c.errArg(0, "a non-empty Tensor list")
			}
			d, err := c.int(1)
			if err != nil {
				return nil, err
			}
			var xs []*Value
			for i, it := range list {
				v, err := b.floatOperand(c, i, it)
				if err != nil {
					return nil, err
				}
				xs = append(xs, v)
			}
			if d, err = normDim(d, len(xs[0].Shape)); err != nil {
				return nil, err
			}
			shape := slices.Clone(xs[0].Shape)
			shape[d] = 0
			for _, x := range xs {
				if len(x.Shape) != len(shape) {
					return nil, fmt.Errorf("%w: cat of ranks %d and %d", ErrModel, len(shape), len(x.Shape))
				}
				for i := range shape {
					if i != d && x.Shape[i] != xs[0].Shape[i] {
						return nil, fmt.Errorf("%w: cat of %v and %v", ErrModel, xs[0].Shape, x.Shape)
					}
				}
				shape[d] += x.Shape[d]
			}
			return b.g.add(OpCat, c.pos, d, xs, ts.Float32, shape).Out[0], nil
		}),
	}
}

func identity(_ *builder, c *opCall) (any, error) { return c.tensor(0) }

func dropout(_ *builder, c *opCall) (any, error) {
	if train, err := c.bool(2); err != nil || train {
		return nil, fmt.Errorf("%w: %s in training mode", ErrUnsupported, c.name)
	}
	return c.tensor(0)
}

func identityPerm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

// reshape adds a view of x with a new shape (one entry may be -1); same shape gives x.
func (b *builder) reshape(pos ts.Pos, x *Value, shape []int) (*Value, error) {
	s, err := inferShape(x.Numel(), shape)
	if err != nil {
		return nil, err
	}
	if slices.Equal(s, x.Shape) {
		return x, nil
	}
	return b.g.add(OpReshape, pos, nil, []*Value{x}, x.DType, s).Out[0], nil
}

// inferShape resolves a -1 entry so that shape holds n elements.
func inferShape(n int, shape []int) ([]int, error) {
	s := slices.Clone(shape)
	free, prod := -1, 1
	for i, d := range s {
		switch {
		case d == -1 && free < 0:
			free = i
		case d < 0:
			return nil, fmt.Errorf("%w: shape %v", ErrModel, shape)
		default:
			prod *= d
		}
	}
	if free >= 0 && prod > 0 && n%prod == 0 {
		s[free] = n / prod
	}
	if tensor.Numel(s) != n {
		return nil, fmt.Errorf("%w: shape %v is invalid for %d elements", ErrModel, shape, n)
	}
	return s, nil
}

// permute adds a transposed copy; the identity permutation gives x.
func (b *builder) permute(pos ts.Pos, x *Value, perm []int) (*Value, error) {
	if slices.Equal(perm, identityPerm(len(perm))) {
		return x, nil
	}
	shape := make([]int, len(perm))
	for i, p := range perm {
		shape[i] = x.Shape[p]
	}
	return b.g.add(OpPermute, pos, perm, []*Value{x}, x.DType, shape).Out[0], nil
}

// slice adds x[..., start:end:step, ...] along d with PyTorch's clamping; the whole
// dimension gives x.
func (b *builder) slice(pos ts.Pos, x *Value, d, start, end, step int) *Value {
	size := x.Shape[d]
	clamp := func(i int) int {
		if i < 0 {
			i += size
		}
		return min(max(i, 0), size)
	}
	s, e := clamp(start), clamp(end)
	n := 0
	if e > s {
		n = (e - s + step - 1) / step
	}
	if s == 0 && n == size && step == 1 {
		return x
	}
	shape := slices.Clone(x.Shape)
	shape[d] = n
	return b.g.add(OpSlice, pos, Slice{Dim: d, Start: s, End: e, Step: step}, []*Value{x}, x.DType, shape).Out[0]
}
