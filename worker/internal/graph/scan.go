package graph

import (
	"fmt"
	"sort"
	"strings"

	ts "github.com/torchgate/torchgate/worker/internal/torchscript"
)

// InputInfo describes one forward argument as far as the code shows it.
type InputInfo struct {
	// Name is the argument name in forward.
	Name string
	// DType is Int64 when the argument feeds an embedding, else Float32.
	DType DType
	// Shape has -1 for the batch and other sizes the code leaves open; nil when not even
	// the rank is known (the engine fills it in once it has run the model).
	Shape []int
}

// Report is what Scan learns about an archive without running it.
type Report struct {
	// Inputs are forward's arguments.
	Inputs []InputInfo
	// OpCalls counts op call sites per forward, following module method calls and helper
	// functions (both branches of an if are counted, loop bodies once).
	OpCalls map[string]int
}

// inputRef marks a scan variable holding forward's i-th argument.
type inputRef int

// scanner walks code statically.
type scanner struct {
	arc     *ts.Archive
	rep     *Report
	bad     []Unsupported
	seenBad map[ts.Pos]bool
	stack   map[*ts.FuncDef]bool
}

// Scan checks every op and construct reachable from the root module's forward and returns
// a Report, or an *UnsupportedError listing every unsupported one with its position.
func Scan(arc *ts.Archive) (*Report, error) {
	fn, err := rootForward(arc)
	if err != nil {
		return nil, err
	}
	s := &scanner{arc: arc, rep: &Report{OpCalls: map[string]int{}}, seenBad: map[ts.Pos]bool{}, stack: map[*ts.FuncDef]bool{}}
	env := map[string]any{fn.Params[0].Name: arc.Module}
	for i, p := range fn.Params[1:] {
		s.rep.Inputs = append(s.rep.Inputs, InputInfo{Name: p.Name, DType: ts.Float32})
		env[p.Name] = inputRef(i)
	}
	if fn.Returns != nil && !tensorType(fn.Returns) {
		s.unsupported("forward returning a non-tensor value", fn.Returns.Position())
	}
	s.fn(fn, env)
	if len(s.bad) > 0 {
		sort.SliceStable(s.bad, func(i, j int) bool {
			a, b := s.bad[i].Pos, s.bad[j].Pos
			if a.File != b.File {
				return a.File < b.File
			}
			return a.Line < b.Line || (a.Line == b.Line && a.Col < b.Col)
		})
		return s.rep, &UnsupportedError{Items: s.bad}
	}
	return s.rep, nil
}

func (s *scanner) unsupported(what string, pos ts.Pos) {
	if !s.seenBad[pos] {
		s.seenBad[pos] = true
		s.bad = append(s.bad, Unsupported{What: what, Pos: pos})
	}
}

// fn walks a function body once per call chain (recursion is cut off).
func (s *scanner) fn(fn *ts.FuncDef, env map[string]any) {
	if s.stack[fn] || len(s.stack) > maxDepth {
		return
	}
	s.stack[fn] = true
	defer delete(s.stack, fn)
	for _, p := range fn.Params {
		if p.Default != nil {
			s.expr(p.Default, env)
		}
	}
	s.block(fn.Body, env)
}

func (s *scanner) block(body []ts.Stmt, env map[string]any) {
	for _, st := range body {
		s.stmt(st, env)
	}
}

func (s *scanner) stmt(st ts.Stmt, env map[string]any) {
	switch st := st.(type) {
	case *ts.AssignStmt:
		v := s.expr(st.Value, env)
		for _, t := range st.Targets {
			if n, ok := t.(*ts.NameExpr); ok {
				env[n.Name] = v
			} else {
				s.clearTargets(t, env)
			}
		}
	case *ts.AnnAssignStmt:
		if st.Value != nil {
			s.expr(st.Value, env)
		}
		s.clearTargets(st.Target, env)
	case *ts.AugAssignStmt:
		s.expr(st.Value, env)
		s.clearTargets(st.Target, env)
	case *ts.ExprStmt:
		s.expr(st.X, env)
	case *ts.IfStmt:
		s.expr(st.Cond, env)
		s.block(st.Body, env)
		s.block(st.Else, env)
	case *ts.ForStmt:
		s.expr(st.Iter, env)
		s.clearTargets(st.Target, env)
		s.block(st.Body, env)
	case *ts.WhileStmt:
		s.expr(st.Cond, env)
		s.block(st.Body, env)
	case *ts.ReturnStmt:
		if st.Value != nil {
			s.expr(st.Value, env)
		}
	case *ts.AssertStmt:
		s.expr(st.Cond, env)
	case *ts.PassStmt, *ts.BreakStmt, *ts.ContinueStmt, *ts.RaiseStmt:
	default:
		s.unsupported(fmt.Sprintf("statement %T", st), st.Position())
	}
}

// clearTargets forgets names that an unpacking or loop assigns.
func (s *scanner) clearTargets(t ts.Expr, env map[string]any) {
	switch t := t.(type) {
	case *ts.NameExpr:
		delete(env, t.Name)
	case *ts.TupleExpr:
		for _, e := range t.Elts {
			s.clearTargets(e, env)
		}
	case *ts.ListExpr:
		for _, e := range t.Elts {
			s.clearTargets(e, env)
		}
	}
}

// expr walks an expression and returns what it statically denotes: a module object, a
// tensor attribute or constant, an inputRef, or nil.
func (s *scanner) expr(e ts.Expr, env map[string]any) any {
	switch e := e.(type) {
	case *ts.NameExpr:
		return env[e.Name]
	case *ts.ConstExpr:
	case *ts.AttributeExpr:
		if name, ok := ts.DottedName(e); ok && strings.HasPrefix(name, "CONSTANTS.") {
			return s.constant(name)
		}
		if obj, ok := s.expr(e.X, env).(*ts.Object); ok {
			v, _ := obj.Attr(e.Name)
			return v
		}
	case *ts.CallExpr:
		return s.call(e, env)
	case *ts.TupleExpr:
		s.exprs(e.Elts, env)
	case *ts.ListExpr:
		s.exprs(e.Elts, env)
	case *ts.SubscriptExpr:
		s.expr(e.X, env)
		if _, ok := e.Index.(*ts.SliceExpr); ok {
			s.unsupported("slice subscript", e.Pos)
		} else {
			s.expr(e.Index, env)
		}
	case *ts.UnaryExpr:
		s.expr(e.X, env)
	case *ts.BinaryExpr:
		s.expr(e.X, env)
		s.expr(e.Y, env)
	case *ts.BoolExpr:
		s.expr(e.X, env)
		s.expr(e.Y, env)
	case *ts.CompareExpr:
		s.exprs(e.Operands, env)
	case *ts.IfExpr:
		s.expr(e.Cond, env)
		s.expr(e.Then, env)
		s.expr(e.Else, env)
	default:
		s.unsupported(fmt.Sprintf("expression %T", e), e.Position())
	}
	return nil
}

func (s *scanner) exprs(es []ts.Expr, env map[string]any) {
	for _, e := range es {
		s.expr(e, env)
	}
}

// isGlobalName is isGlobal for the scanner's environment.
func isGlobalName(name string, env map[string]any) bool {
	return isGlobal(name, &frame{vars: env})
}

// constant resolves CONSTANTS.cN to its value.
func (s *scanner) constant(name string) any {
	var n int
	if _, err := fmt.Sscanf(name, "CONSTANTS.c%d", &n); err == nil && n >= 0 && n < len(s.arc.Constants) {
		return s.arc.Constants[n]
	}
	return nil
}

func (s *scanner) call(c *ts.CallExpr, env map[string]any) any {
	args := make([]any, len(c.Args))
	for i, a := range c.Args {
		args[i] = s.expr(a, env)
	}
	kw := map[string]any{}
	for _, k := range c.Keywords {
		kw[k.Name] = s.expr(k.Value, env)
	}
	switch fn := c.Func.(type) {
	case *ts.AttributeExpr:
		if name, ok := ts.DottedName(fn); ok && isGlobalName(name, env) {
			s.globalCall(c.Pos, name, args, kw)
			return nil
		}
		obj, ok := s.expr(fn.X, env).(*ts.Object)
		if !ok {
			s.unsupported("method "+fn.Name+" of a non-module value", c.Pos)
			return nil
		}
		cls, ok := s.arc.Class(obj.Class)
		if !ok {
			s.unsupported("class "+obj.Class+" without code", c.Pos)
			return nil
		}
		m, ok := cls.Method(fn.Name)
		if !ok {
			s.unsupported("method "+obj.Class+"."+fn.Name, c.Pos)
			return nil
		}
		s.fn(m, bindScan(m, obj, args, kw))
	case *ts.NameExpr:
		if !builtinNames[fn.Name] {
			s.unsupported(fn.Name+"()", c.Pos)
			return nil
		}
		if fn.Name == "getattr" && len(args) == 2 {
			if obj, ok := args[0].(*ts.Object); ok {
				if lit, ok := c.Args[1].(*ts.ConstExpr); ok {
					if name, ok := lit.Value.(string); ok {
						return obj.Module(name)
					}
				}
			}
		}
	default:
		s.unsupported(fmt.Sprintf("call of %T", c.Func), c.Pos)
	}
	return nil
}

// bindScan makes the environment of a called method or function.
func bindScan(fn *ts.FuncDef, self any, args []any, kw map[string]any) map[string]any {
	env := map[string]any{}
	params := fn.Params
	if self != nil && len(params) > 0 {
		env[params[0].Name] = self
		params = params[1:]
	}
	for i, p := range params {
		if i < len(args) {
			env[p.Name] = args[i]
		} else if v, ok := kw[p.Name]; ok {
			env[p.Name] = v
		}
	}
	return env
}

func (s *scanner) globalCall(pos ts.Pos, name string, args []any, kw map[string]any) {
	if key, prim, ok := opName(name); ok {
		table, label := ops, "aten::"+key
		if prim {
			table, label = prims, "prim::"+key
		}
		if _, ok := table[key]; !ok {
			s.unsupported(label, pos)
			return
		}
		if !prim {
			s.rep.OpCalls[key]++
			s.noteInputs(key, args)
		}
		return
	}
	if fn, ok := s.arc.Function(name); ok {
		s.fn(fn, bindScan(fn, nil, args, kw))
		return
	}
	s.unsupported(name, pos)
}

// noteInputs records what the first op reading a forward argument says about it.
func (s *scanner) noteInputs(op string, args []any) {
	for i, a := range args {
		ref, ok := a.(inputRef)
		if !ok || int(ref) >= len(s.rep.Inputs) || s.rep.Inputs[ref].Shape != nil {
			continue
		}
		in := &s.rep.Inputs[ref]
		switch {
		case op == "embedding" && i == 1:
			in.DType = ts.Int64
		case (op == "_convolution" || op == "conv2d") && i == 0:
			if w, ok := args[1].(*ts.Tensor); ok && len(w.Shape) == 4 {
				in.Shape = []int{-1, w.Shape[1], -1, -1} // groups is 1 for every first layer we know
			}
		case op == "_transformer_encoder_layer_fwd" && i == 0:
			if w, ok := args[3].(*ts.Tensor); ok && len(w.Shape) == 2 {
				in.Shape = []int{-1, -1, w.Shape[1]}
			}
		}
	}
}

// tensorType reports whether a type annotation is Tensor or a tuple of tensor types.
func tensorType(e ts.Expr) bool {
	switch t := e.(type) {
	case *ts.NameExpr:
		return t.Name == "Tensor"
	case *ts.SubscriptExpr:
		if n, ok := t.X.(*ts.NameExpr); !ok || n.Name != "Tuple" {
			return false
		}
		elts := []ts.Expr{t.Index}
		if tup, ok := t.Index.(*ts.TupleExpr); ok {
			elts = tup.Elts
		}
		for _, el := range elts {
			if !tensorType(el) {
				return false
			}
		}
		return true
	}
	return false
}
