package graph

import (
	"fmt"

	ts "github.com/torchgate/torchgate/worker/internal/torchscript"
)

// control says how a block ended.
type control int

const (
	ctlNone control = iota
	ctlReturn
	ctlBreak
	ctlContinue
)

// execBlock runs statements until one returns, breaks or continues.
func (b *builder) execBlock(f *frame, body []ts.Stmt) (any, control, error) {
	for _, s := range body {
		b.steps++
		if b.steps > maxSteps {
			return nil, ctlNone, posError(s.Position(), fmt.Errorf("%w: more than %d statements executed", ErrModel, maxSteps))
		}
		res, ctl, err := b.exec(f, s)
		if err != nil || ctl != ctlNone {
			return res, ctl, err
		}
	}
	return nil, ctlNone, nil
}

func (b *builder) exec(f *frame, s ts.Stmt) (any, control, error) {
	switch s := s.(type) {
	case *ts.AssignStmt:
		v, err := b.eval(f, s.Value)
		if err != nil {
			return nil, ctlNone, err
		}
		for _, t := range s.Targets {
			if err := b.assign(f, t, v); err != nil {
				return nil, ctlNone, err
			}
		}
	case *ts.AnnAssignStmt:
		if s.Value == nil {
			return nil, ctlNone, nil
		}
		v, err := b.eval(f, s.Value)
		if err != nil {
			return nil, ctlNone, err
		}
		return nil, ctlNone, b.assign(f, s.Target, v)
	case *ts.AugAssignStmt:
		cur, err := b.eval(f, s.Target)
		if err != nil {
			return nil, ctlNone, err
		}
		rhs, err := b.eval(f, s.Value)
		if err != nil {
			return nil, ctlNone, err
		}
		v, err := b.binaryOperator(s.Pos, s.Op, cur, rhs)
		if err != nil {
			return nil, ctlNone, err
		}
		return nil, ctlNone, b.assign(f, s.Target, v)
	case *ts.ExprStmt:
		_, err := b.eval(f, s.X)
		return nil, ctlNone, err
	case *ts.IfStmt:
		c, err := b.evalCond(f, s.Cond)
		if err != nil {
			return nil, ctlNone, err
		}
		if c {
			return b.execBlock(f, s.Body)
		}
		return b.execBlock(f, s.Else)
	case *ts.ForStmt:
		return b.execFor(f, s)
	case *ts.WhileStmt:
		for {
			c, err := b.evalCond(f, s.Cond)
			if err != nil || !c {
				return nil, ctlNone, err
			}
			res, ctl, err := b.execBlock(f, s.Body)
			if err != nil || ctl == ctlReturn {
				return res, ctl, err
			}
			if ctl == ctlBreak {
				return nil, ctlNone, nil
			}
		}
	case *ts.ReturnStmt:
		if s.Value == nil {
			return nil, ctlReturn, nil
		}
		v, err := b.eval(f, s.Value)
		return v, ctlReturn, err
	case *ts.PassStmt:
	case *ts.BreakStmt:
		return nil, ctlBreak, nil
	case *ts.ContinueStmt:
		return nil, ctlContinue, nil
	case *ts.AssertStmt:
		c, err := b.evalCond(f, s.Cond)
		if err != nil {
			return nil, ctlNone, err
		}
		if !c {
			return nil, ctlNone, posError(s.Pos, fmt.Errorf("%w: assertion failed", ErrModel))
		}
	case *ts.RaiseStmt:
		return nil, ctlNone, posError(s.Pos, fmt.Errorf("%w: the model raised an exception", ErrModel))
	default:
		return nil, ctlNone, posError(s.Position(), fmt.Errorf("%w: statement %T", ErrUnsupported, s))
	}
	return nil, ctlNone, nil
}

// execFor unrolls a loop over a build-time sequence (range(n), a list or a tuple).
func (b *builder) execFor(f *frame, s *ts.ForStmt) (any, control, error) {
	it, err := b.eval(f, s.Iter)
	if err != nil {
		return nil, ctlNone, err
	}
	var items []any
	switch x := it.(type) {
	case []any:
		items = x
	case tuple:
		items = x
	default:
		return nil, ctlNone, posError(s.Pos, fmt.Errorf("%w: for loop over %s", ErrUnsupported, typeName(it)))
	}
	for _, item := range items {
		if err := b.assign(f, s.Target, item); err != nil {
			return nil, ctlNone, err
		}
		res, ctl, err := b.execBlock(f, s.Body)
		if err != nil || ctl == ctlReturn {
			return res, ctl, err
		}
		if ctl == ctlBreak {
			break
		}
	}
	return nil, ctlNone, nil
}

// assign binds a name or unpacks a tuple/list into a tuple target.
func (b *builder) assign(f *frame, target ts.Expr, v any) error {
	switch t := target.(type) {
	case *ts.NameExpr:
		f.vars[t.Name] = v
		return nil
	case *ts.TupleExpr:
		return b.unpack(f, t.Pos, t.Elts, v)
	case *ts.ListExpr:
		return b.unpack(f, t.Pos, t.Elts, v)
	}
	return posError(target.Position(), fmt.Errorf("%w: assignment to %T", ErrUnsupported, target))
}

func (b *builder) unpack(f *frame, pos ts.Pos, targets []ts.Expr, v any) error {
	var items []any
	switch x := v.(type) {
	case tuple:
		items = x
	case []any:
		items = x
	default:
		return posError(pos, fmt.Errorf("%w: cannot unpack %s", ErrModel, typeName(v)))
	}
	if len(items) != len(targets) {
		return posError(pos, fmt.Errorf("%w: unpacking %d values into %d names", ErrModel, len(items), len(targets)))
	}
	for i, t := range targets {
		if err := b.assign(f, t, items[i]); err != nil {
			return err
		}
	}
	return nil
}

// evalCond evaluates a condition that must be known at build time.
func (b *builder) evalCond(f *frame, e ts.Expr) (bool, error) {
	v, err := b.eval(f, e)
	if err != nil {
		return false, err
	}
	c, ok := truth(v)
	if !ok {
		return false, posError(e.Position(), fmt.Errorf("%w: condition on a runtime tensor", ErrUnsupported))
	}
	return c, nil
}
