package graph

import (
	"fmt"
	"strconv"
	"strings"

	ts "github.com/torchgate/torchgate/worker/internal/torchscript"
)

// param is one parameter of an op schema.
type param struct {
	name     string
	def      any
	required bool
}

// opDef is an op: its schema (nil for ops that inspect their raw arguments because
// PyTorch overloads them) and its builder.
type opDef struct {
	params []param
	fn     func(*builder, *opCall) (any, error)
}

// opCall is one bound call: a holds the arguments in schema order (or as passed, for raw
// ops, with keywords in kw).
type opCall struct {
	name string
	pos  ts.Pos
	a    []any
	kw   map[string]any
}

// op declares an op with a schema such as "self, other, alpha=1" (defaults: None, True,
// False, numbers, 'strings' and [] lists). An empty schema declares a raw op.
func op(schema string, fn func(*builder, *opCall) (any, error)) *opDef {
	d := &opDef{fn: fn}
	if schema == "" {
		return d
	}
	for _, p := range strings.Split(schema, ",") {
		p = strings.TrimSpace(p)
		name, def, hasDef := strings.Cut(p, "=")
		d.params = append(d.params, param{name: name, def: parseDefault(def), required: !hasDef})
	}
	return d
}

func parseDefault(s string) any {
	switch s {
	case "", "None":
		return nil
	case "True":
		return true
	case "False":
		return false
	case "[]":
		return []any{}
	}
	if strings.HasPrefix(s, "'") {
		return strings.Trim(s, "'")
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	panic("graph: bad schema default " + s) // static tables only
}

// bind matches positional and keyword arguments to the schema.
func (d *opDef) bind(name string, pos ts.Pos, args []any, kw map[string]any) (*opCall, error) {
	c := &opCall{name: name, pos: pos}
	if d.params == nil {
		c.a, c.kw = args, kw
		return c, nil
	}
	if len(args) > len(d.params) {
		return nil, fmt.Errorf("%w: %s takes %d arguments, got %d", ErrModel, name, len(d.params), len(args))
	}
	c.a = make([]any, len(d.params))
	used := 0
	for i, p := range d.params {
		v, ok := kw[p.name]
		switch {
		case i < len(args):
			c.a[i] = args[i]
		case ok:
			c.a[i] = v
			used++
		case p.required:
			return nil, fmt.Errorf("%w: %s: missing argument %s", ErrModel, name, p.name)
		default:
			c.a[i] = p.def
		}
	}
	if used != len(kw) {
		return nil, fmt.Errorf("%w: %s: unknown keyword argument", ErrModel, name)
	}
	return c, nil
}

// errArg reports argument i of a call with the wrong type.
func (c *opCall) errArg(i int, want string) error {
	var got any
	if i < len(c.a) {
		got = c.a[i]
	}
	return fmt.Errorf("%w: %s: argument %d is %s, want %s", ErrModel, c.name, i, typeName(got), want)
}

func (c *opCall) tensor(i int) (*Value, error) {
	if i < len(c.a) {
		if v, ok := c.a[i].(*Value); ok {
			return v, nil
		}
	}
	return nil, c.errArg(i, "Tensor")
}

func (c *opCall) optTensor(i int) (*Value, error) {
	if i >= len(c.a) || c.a[i] == nil {
		return nil, nil
	}
	return c.tensor(i)
}

func (c *opCall) int(i int) (int, error) {
	if i < len(c.a) {
		if v, ok := toInt(c.a[i]); ok && !isFloatScalar(c.a[i]) {
			return int(v), nil
		}
	}
	return 0, c.errArg(i, "int")
}

// isFloatScalar reports whether v is a float number (which int arguments reject).
func isFloatScalar(v any) bool {
	s, _, ok := scalar(v)
	return ok && isFloat(s)
}

func (c *opCall) float(i int) (float64, error) {
	if i < len(c.a) {
		if v, ok := toFloat(c.a[i]); ok {
			return v, nil
		}
	}
	return 0, c.errArg(i, "float")
}

func (c *opCall) bool(i int) (bool, error) {
	if i < len(c.a) {
		if v, ok := c.a[i].(bool); ok {
			return v, nil
		}
		if v, ok := c.a[i].(int64); ok {
			return v != 0, nil
		}
	}
	return false, c.errArg(i, "bool")
}

// ints returns an int list argument; a single int is repeated n times (PyTorch's int[2]).
func (c *opCall) ints(i, n int) ([]int, error) {
	if i >= len(c.a) {
		return nil, c.errArg(i, "int[]")
	}
	return intList(c.a[i], n, func() error { return c.errArg(i, "int[]") })
}

func intList(v any, n int, bad func() error) ([]int, error) {
	var items []any
	switch x := v.(type) {
	case []any:
		items = x
	case tuple:
		items = x
	default:
		k, ok := toInt(v)
		if !ok || n <= 0 {
			return nil, bad()
		}
		out := make([]int, n)
		for j := range out {
			out[j] = int(k)
		}
		return out, nil
	}
	out := make([]int, len(items))
	for j, it := range items {
		k, ok := toInt(it)
		if !ok || isFloatScalar(it) {
			return nil, bad()
		}
		out[j] = int(k)
	}
	if len(out) == 1 && n > 1 {
		for len(out) < n {
			out = append(out, out[0])
		}
	}
	return out, nil
}

// tensorDim reads a tensor argument and a dimension argument of it, normalised to 0..rank-1.
func (c *opCall) tensorDim(ti, di int) (*Value, int, error) {
	x, err := c.tensor(ti)
	if err != nil {
		return nil, 0, err
	}
	d, err := c.int(di)
	if err != nil {
		return nil, 0, err
	}
	if d, err = normDim(d, len(x.Shape)); err != nil {
		return nil, 0, err
	}
	return x, d, nil
}

// normDim maps a possibly negative dim onto [0, rank).
func normDim(d, rank int) (int, error) {
	if d < 0 {
		d += rank
	}
	if d < 0 || d >= rank {
		return 0, fmt.Errorf("%w: dim %d out of range for rank %d", ErrModel, d, rank)
	}
	return d, nil
}
