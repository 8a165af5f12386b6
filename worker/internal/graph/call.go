package graph

import (
	"fmt"
	"strings"

	ts "github.com/torchgate/torchgate/worker/internal/torchscript"
)

// evalCall evaluates a call: a module method, a torch/aten op, an ops.prim builtin, a
// scripted helper function or a Python builtin.
func (b *builder) evalCall(f *frame, c *ts.CallExpr) (any, error) {
	args, err := b.evalList(f, c.Args)
	if err != nil {
		return nil, err
	}
	var kw map[string]any
	if len(c.Keywords) > 0 {
		kw = make(map[string]any, len(c.Keywords))
		for _, k := range c.Keywords {
			v, err := b.eval(f, k.Value)
			if err != nil {
				return nil, err
			}
			kw[k.Name] = v
		}
	}
	switch fn := c.Func.(type) {
	case *ts.AttributeExpr:
		if name, ok := ts.DottedName(fn); ok && isGlobal(name, f) {
			return b.callGlobal(c.Pos, name, args, kw)
		}
		recv, err := b.eval(f, fn.X)
		if err != nil {
			return nil, err
		}
		obj, ok := recv.(*ts.Object)
		if !ok {
			return nil, posError(c.Pos, fmt.Errorf("%w: method %s of %s", ErrUnsupported, fn.Name, typeName(recv)))
		}
		m, err := b.method(c.Pos, obj, fn.Name)
		if err != nil {
			return nil, err
		}
		return b.callFunc(m, obj, args, kw, c.Pos)
	case *ts.NameExpr:
		return b.callBuiltin(c.Pos, fn.Name, args, kw)
	}
	return nil, posError(c.Pos, fmt.Errorf("%w: call of %T", ErrUnsupported, c.Func))
}

// method finds a module's method by name.
func (b *builder) method(pos ts.Pos, obj *ts.Object, name string) (*ts.FuncDef, error) {
	cls, ok := b.arc.Class(obj.Class)
	if !ok {
		return nil, posError(pos, fmt.Errorf("%w: no code for class %s", ErrModel, obj.Class))
	}
	m, ok := cls.Method(name)
	if !ok {
		return nil, posError(pos, fmt.Errorf("%w: class %s has no method %s", ErrModel, obj.Class, name))
	}
	return m, nil
}

// isGlobal reports whether a dotted name refers to a module-level name (torch.*, ops.*,
// __torch__.*) rather than a local variable.
func isGlobal(name string, f *frame) bool {
	root, _, _ := strings.Cut(name, ".")
	if _, local := f.vars[root]; local {
		return false
	}
	return root == "torch" || root == "ops" || root == "__torch__"
}

// opName maps a qualified callee to the op table key and whether it is a prim builtin.
func opName(name string) (key string, prim, ok bool) {
	if n, found := strings.CutPrefix(name, "ops.prim."); found {
		return n, true, true
	}
	if n, found := strings.CutPrefix(name, "ops.aten."); found {
		return n, false, true
	}
	if n, found := strings.CutPrefix(name, "torch."); found && !strings.Contains(n, ".") {
		return n, false, true
	}
	return "", false, false
}

func (b *builder) callGlobal(pos ts.Pos, name string, args []any, kw map[string]any) (any, error) {
	if key, prim, ok := opName(name); ok {
		table := ops
		if prim {
			table = prims
		}
		d, ok := table[key]
		if !ok {
			return nil, posError(pos, fmt.Errorf("%w: %s", ErrUnsupported, name))
		}
		call, err := d.bind(key, pos, args, kw)
		if err != nil {
			return nil, posError(pos, err)
		}
		r, err := d.fn(b, call)
		if err != nil {
			return nil, posError(pos, err)
		}
		return r, nil
	}
	if fn, ok := b.arc.Function(name); ok {
		return b.callFunc(fn, nil, args, kw, pos)
	}
	return nil, posError(pos, fmt.Errorf("%w: %s", ErrUnsupported, name))
}

// builtinNames are the Python builtins callBuiltin handles.
var builtinNames = map[string]bool{
	"int": true, "float": true, "bool": true, "range": true, "len": true, "getattr": true,
	"annotate": true, "uninitialized": true, "unchecked_cast": true,
}

func (b *builder) callBuiltin(pos ts.Pos, name string, args []any, kw map[string]any) (any, error) {
	if !builtinNames[name] || len(kw) > 0 {
		return nil, posError(pos, fmt.Errorf("%w: %s()", ErrUnsupported, name))
	}
	bad := func() (any, error) {
		return nil, posError(pos, fmt.Errorf("%w: %s() of %d arguments", ErrUnsupported, name, len(args)))
	}
	switch name {
	case "int", "float", "bool":
		if len(args) != 1 {
			return bad()
		}
		s, _, ok := scalar(args[0])
		if !ok {
			return nil, posError(pos, fmt.Errorf("%w: %s() of %s", ErrUnsupported, name, typeName(args[0])))
		}
		switch name {
		case "int":
			i, ok := toInt(s)
			if !ok {
				return nil, posError(pos, fmt.Errorf("%w: int() of %v", ErrModel, s))
			}
			return i, nil
		case "float":
			x, _ := toFloat(s)
			return x, nil
		}
		t, _ := truth(s)
		return t, nil
	case "range":
		var lo, hi, step int64 = 0, 0, 1
		ints := make([]int64, len(args))
		for i, a := range args {
			v, ok := toInt(a)
			if !ok {
				return bad()
			}
			ints[i] = v
		}
		switch len(ints) {
		case 1:
			hi = ints[0]
		case 2, 3:
			lo, hi = ints[0], ints[1]
			if len(ints) == 3 {
				step = ints[2]
			}
		default:
			return bad()
		}
		if step == 0 || (hi-lo)/step > maxSteps {
			return nil, posError(pos, fmt.Errorf("%w: range(%d, %d, %d)", ErrModel, lo, hi, step))
		}
		var out []any
		for i := lo; (step > 0 && i < hi) || (step < 0 && i > hi); i += step {
			out = append(out, i)
		}
		return out, nil
	case "len":
		if len(args) != 1 {
			return bad()
		}
		switch x := args[0].(type) {
		case []any:
			return int64(len(x)), nil
		case tuple:
			return int64(len(x)), nil
		case *Value:
			if len(x.Shape) > 0 {
				return int64(x.Shape[0]), nil
			}
		}
		return bad()
	case "getattr":
		if len(args) != 2 {
			return bad()
		}
		obj, ok1 := args[0].(*ts.Object)
		attr, ok2 := args[1].(string)
		if !ok1 || !ok2 {
			return bad()
		}
		return b.objectAttr(pos, obj, attr)
	case "annotate", "unchecked_cast":
		if len(args) == 0 {
			return bad()
		}
		return args[len(args)-1], nil
	}
	return nil, nil // uninitialized(T): a placeholder no path reads
}
