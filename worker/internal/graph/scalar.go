package graph

import (
	"fmt"
	"math"

	"github.com/torchgate/torchgate/worker/internal/tensor"
	ts "github.com/torchgate/torchgate/worker/internal/torchscript"
)

// scalar returns the build-time number a value stands for: a Python int, float or bool, or
// a 0-dim constant tensor (then fromTensor is true). ok is false for anything else.
func scalar(v any) (x any, fromTensor, ok bool) {
	switch s := v.(type) {
	case int64, float64, bool:
		return s, false, true
	case *Value:
		if s.Const == nil || len(s.Shape) != 0 {
			return nil, false, false
		}
		switch c := s.Const.(type) {
		case *tensor.Tensor:
			return float64(c.Data[0]), true, true
		case *tensor.Int64:
			return c.Data[0], true, true
		case *tensor.Bool:
			return c.Data[0], true, true
		}
	}
	return nil, false, false
}

// truth is Python's truth value of a build-time value.
func truth(v any) (bool, bool) {
	switch x := v.(type) {
	case nil:
		return false, true
	case []any:
		return len(x) > 0, true
	case tuple:
		return len(x) > 0, true
	case string:
		return x != "", true
	}
	s, _, ok := scalar(v)
	if !ok {
		return false, false
	}
	switch n := s.(type) {
	case bool:
		return n, true
	case int64:
		return n != 0, true
	default:
		return n.(float64) != 0, true
	}
}

// toInt converts an int, bool or integral 0-dim tensor (and, truncating, a float) to int64.
func toInt(v any) (int64, bool) {
	s, _, ok := scalar(v)
	if !ok {
		return 0, false
	}
	switch n := s.(type) {
	case int64:
		return n, true
	case bool:
		if n {
			return 1, true
		}
		return 0, true
	default:
		f := n.(float64)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		return int64(f), true
	}
}

// toFloat converts any build-time number to float64.
func toFloat(v any) (float64, bool) {
	s, _, ok := scalar(v)
	if !ok {
		return 0, false
	}
	switch n := s.(type) {
	case int64:
		return float64(n), true
	case bool:
		if n {
			return 1, true
		}
		return 0, true
	default:
		return n.(float64), true
	}
}

// isFloat reports whether a scalar is a float (not int or bool).
func isFloat(s any) bool {
	_, ok := s.(float64)
	return ok
}

// scalarArith computes a build-time a op b for op in "+ - * / // % **" with Python's rules
// (int op int stays int except for /; floor division and modulo round toward −∞).
func scalarArith(op string, a, b any) (any, error) {
	ia, aInt := a.(int64)
	ib, bInt := b.(int64)
	if ba, ok := a.(bool); ok {
		ia, aInt = b2i(ba), true
	}
	if bb, ok := b.(bool); ok {
		ib, bInt = b2i(bb), true
	}
	if aInt && bInt && op != "/" && op != "**" {
		switch op {
		case "+":
			return ia + ib, nil
		case "-":
			return ia - ib, nil
		case "*":
			return ia * ib, nil
		case "//", "floor", "%":
			if ib == 0 {
				return nil, fmt.Errorf("%w: integer division by zero", ErrModel)
			}
			q := ia / ib
			if (ia%ib != 0) && ((ia < 0) != (ib < 0)) {
				q--
			}
			if op != "%" {
				return q, nil
			}
			return ia - q*ib, nil
		case "trunc":
			if ib == 0 {
				return nil, fmt.Errorf("%w: integer division by zero", ErrModel)
			}
			return ia / ib, nil
		}
	}
	fa, _ := toFloat(a)
	fb, _ := toFloat(b)
	switch op {
	case "+":
		return fa + fb, nil
	case "-":
		return fa - fb, nil
	case "*":
		return fa * fb, nil
	case "/":
		return fa / fb, nil
	case "//", "floor":
		return math.Floor(fa / fb), nil
	case "trunc":
		return math.Trunc(fa / fb), nil
	case "%":
		return fa - math.Floor(fa/fb)*fb, nil
	case "**":
		r := math.Pow(fa, fb)
		if aInt && bInt && ib >= 0 {
			return int64(r), nil
		}
		return r, nil
	}
	return nil, fmt.Errorf("%w: operator %s", ErrUnsupported, op)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// scalarCompare computes a build-time comparison.
func scalarCompare(op string, a, b any) (bool, error) {
	if isFloat(a) || isFloat(b) {
		fa, _ := toFloat(a)
		fb, _ := toFloat(b)
		switch op {
		case "<":
			return fa < fb, nil
		case "<=":
			return fa <= fb, nil
		case ">":
			return fa > fb, nil
		case ">=":
			return fa >= fb, nil
		case "==":
			return fa == fb, nil
		case "!=":
			return fa != fb, nil
		}
	} else {
		ia, _ := toInt(a)
		ib, _ := toInt(b)
		switch op {
		case "<":
			return ia < ib, nil
		case "<=":
			return ia <= ib, nil
		case ">":
			return ia > ib, nil
		case ">=":
			return ia >= ib, nil
		case "==":
			return ia == ib, nil
		case "!=":
			return ia != ib, nil
		}
	}
	return false, fmt.Errorf("%w: comparison %s", ErrUnsupported, op)
}

// wrapScalar returns r as a 0-dim constant tensor when either operand was a tensor (torch
// ops on 0-dim tensors give 0-dim tensors), else as the Python value.
func (b *builder) wrapScalar(r any, asTensor bool) any {
	if !asTensor {
		return r
	}
	switch x := r.(type) {
	case int64:
		return b.g.newConst(&tensor.Int64{Shape: []int{}, Data: []int64{x}})
	case bool:
		return b.g.newConst(&tensor.Bool{Shape: []int{}, Data: []bool{x}})
	case float64:
		return b.g.newConst(&tensor.Tensor{Shape: []int{}, Data: []float32{float32(x)}})
	}
	return r
}

// binaryOperator evaluates a Python operator expression on build-time values (numbers and
// list concatenation).
func (b *builder) binaryOperator(pos ts.Pos, op string, x, y any) (any, error) {
	if op == "+" {
		if lx, ok := x.([]any); ok {
			if ly, ok := y.([]any); ok {
				return append(append([]any{}, lx...), ly...), nil
			}
		}
	}
	sx, tx, okx := scalar(x)
	sy, ty, oky := scalar(y)
	if !okx || !oky {
		return nil, posError(pos, fmt.Errorf("%w: operator %s on %s and %s", ErrUnsupported, op, typeName(x), typeName(y)))
	}
	r, err := scalarArith(op, sx, sy)
	if err != nil {
		return nil, posError(pos, err)
	}
	return b.wrapScalar(r, tx || ty), nil
}
