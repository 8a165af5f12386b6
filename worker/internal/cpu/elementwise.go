package cpu

import (
	"fmt"
	"math"

	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// RoundingMode is torch.div's rounding_mode.
type RoundingMode int

// Rounding modes of Div.
const (
	// RoundNone is true division (rounding_mode=None).
	RoundNone RoundingMode = iota
	// RoundTrunc rounds the quotient toward zero ("trunc").
	RoundTrunc
	// RoundFloor rounds the quotient toward −∞ ("floor"), computed as Python's floor division.
	RoundFloor
)

type binaryOp int

const (
	opAdd  binaryOp = iota // a + alpha·b
	opRsub                 // b − alpha·a
	opMul
	opDiv
	opDivTrunc
	opDivFloor
)

// Add computes torch.add(a, b, alpha=alpha) = a + alpha·b with broadcasting into dst, which
// must have the broadcast shape. dst may be an operand of that same shape (in-place add_).
func Add(dst, a, b *tensor.Tensor, alpha float32) error { return binary(dst, a, b, opAdd, alpha) }

// Sub computes torch.sub(a, b, alpha=alpha) = a − alpha·b with broadcasting.
func Sub(dst, a, b *tensor.Tensor, alpha float32) error { return binary(dst, a, b, opAdd, -alpha) }

// Rsub computes torch.rsub(a, b, alpha=alpha) = b − alpha·a with broadcasting.
func Rsub(dst, a, b *tensor.Tensor, alpha float32) error { return binary(dst, a, b, opRsub, alpha) }

// Mul computes torch.mul(a, b) with broadcasting.
func Mul(dst, a, b *tensor.Tensor) error { return binary(dst, a, b, opMul, 1) }

// Div computes torch.div(a, b, rounding_mode=mode) with broadcasting, in float32 as PyTorch
// does for float tensors (x/0 gives ±Inf or NaN, as in IEEE arithmetic).
func Div(dst, a, b *tensor.Tensor, mode RoundingMode) error {
	switch mode {
	case RoundNone:
		return binary(dst, a, b, opDiv, 1)
	case RoundTrunc:
		return binary(dst, a, b, opDivTrunc, 1)
	case RoundFloor:
		return binary(dst, a, b, opDivFloor, 1)
	}
	return fmt.Errorf("%w: rounding mode %d", ErrArgument, mode)
}

func binary(dst, a, b *tensor.Tensor, op binaryOp, alpha float32) error {
	if err := validate(dst, a, b); err != nil {
		return err
	}
	var buf planBuf
	p, err := planBroadcast(&buf, dst.Shape, a.Shape, b.Shape)
	if err != nil {
		return err
	}
	p.runs(func(o, ia, ib, n int) {
		binaryRun(op, alpha, dst.Data[o:o+n], a.Data, ia, p.stepA, b.Data, ib, p.stepB)
	})
	return nil
}

// binaryRun applies op along one run; out may alias a or b only at the same positions.
func binaryRun(op binaryOp, alpha float32, out, a []float32, ia, sa int, b []float32, ib, sb int) {
	switch {
	case op == opAdd && sa == 1 && sb == 1 && alpha == 1:
		x, y := a[ia:ia+len(out)], b[ib:ib+len(out)]
		for i := range out {
			out[i] = x[i] + y[i]
		}
		return
	case op == opMul && sa == 1 && sb == 1:
		x, y := a[ia:ia+len(out)], b[ib:ib+len(out)]
		for i := range out {
			out[i] = x[i] * y[i]
		}
		return
	}
	for i := range out {
		x, y := a[ia+i*sa], b[ib+i*sb]
		switch op {
		case opAdd:
			out[i] = x + alpha*y
		case opRsub:
			out[i] = y - alpha*x
		case opMul:
			out[i] = x * y
		case opDiv:
			out[i] = x / y
		case opDivTrunc:
			out[i] = float32(math.Trunc(float64(x / y)))
		case opDivFloor:
			out[i] = divFloor(x, y)
		}
	}
}

// divFloor is PyTorch's div_floor_floating: floor division that agrees with Python's
// a // b, computed from fmod to avoid the rounding of a/b.
func divFloor(a, b float32) float32 {
	if b == 0 {
		return a / b
	}
	mod := float32(math.Mod(float64(a), float64(b)))
	div := (a - mod) / b
	if mod != 0 && (b < 0) != (mod < 0) {
		div--
	}
	if div == 0 {
		return float32(math.Copysign(0, float64(a/b)))
	}
	floor := float32(math.Floor(float64(div)))
	if div-floor > 0.5 {
		floor++
	}
	return floor
}

// Activate applies an activation element-wise (torch.relu, gelu, tanh, sigmoid; see
// Activation) from x into dst of the same shape; dst may be x (relu_ and friends).
func Activate(dst, x *tensor.Tensor, act Activation) error {
	if err := validate(dst, x); err != nil {
		return err
	}
	if !act.valid() {
		return fmt.Errorf("%w: activation %d", ErrArgument, act)
	}
	if !tensor.EqualShapes(dst.Shape, x.Shape) {
		return fmt.Errorf("%w: destination %v for input %v", ErrShape, dst.Shape, x.Shape)
	}
	copy(dst.Data, x.Data)
	act.apply(dst.Data)
	return nil
}

// CompareOp selects the comparison of Compare.
type CompareOp int

// Comparisons, as torch.gt, torch.lt and torch.eq (NaN compares false).
const (
	// Greater is torch.gt: a > b.
	Greater CompareOp = iota
	// Less is torch.lt: a < b.
	Less
	// Equal is torch.eq: a == b.
	Equal
)

// Compare computes torch.gt/lt/eq(a, b) with broadcasting into the boolean mask dst.
func Compare(dst *tensor.Bool, a, b *tensor.Tensor, op CompareOp) error {
	if op < Greater || op > Equal {
		return fmt.Errorf("%w: comparison %d", ErrArgument, op)
	}
	if dst == nil || dst.Validate() != nil {
		return fmt.Errorf("%w: invalid destination", ErrShape)
	}
	if err := validate(a, b); err != nil {
		return err
	}
	var buf planBuf
	p, err := planBroadcast(&buf, dst.Shape, a.Shape, b.Shape)
	if err != nil {
		return err
	}
	p.runs(func(o, ia, ib, n int) {
		out := dst.Data[o : o+n]
		for i := range out {
			x, y := a.Data[ia+i*p.stepA], b.Data[ib+i*p.stepB]
			switch op {
			case Greater:
				out[i] = x > y
			case Less:
				out[i] = x < y
			default:
				out[i] = x == y
			}
		}
	})
	return nil
}

// MaskedFill computes torch.masked_fill(x, mask, value): x where mask is false, value where
// it is true; mask broadcasts to x's shape. dst has x's shape and may be x (masked_fill_).
func MaskedFill(dst, x *tensor.Tensor, mask *tensor.Bool, value float32) error {
	if err := validate(dst, x); err != nil {
		return err
	}
	if mask == nil || mask.Validate() != nil {
		return fmt.Errorf("%w: invalid mask", ErrShape)
	}
	if !tensor.EqualShapes(dst.Shape, x.Shape) {
		return fmt.Errorf("%w: destination %v for input %v", ErrShape, dst.Shape, x.Shape)
	}
	var buf planBuf
	p, err := planBroadcast(&buf, x.Shape, x.Shape, mask.Shape)
	if err != nil {
		return err
	}
	p.runs(func(o, ia, ib, n int) {
		for i := range n {
			if mask.Data[ib+i*p.stepB] {
				dst.Data[o+i] = value
			} else {
				dst.Data[o+i] = x.Data[ia+i*p.stepA]
			}
		}
	})
	return nil
}

// validate checks that every tensor is non-nil and holds as many elements as its shape says.
func validate(ts ...*tensor.Tensor) error {
	for _, t := range ts {
		if t == nil {
			return fmt.Errorf("%w: missing tensor", ErrShape)
		}
		if err := t.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrShape, err)
		}
	}
	return nil
}
