package torchscript

import "math"

// exprList parses "a" or "a, b[,]" (a TupleExpr).
func (p *parser) exprList() (Expr, error) {
	pos := p.peek().pos
	first, err := p.test()
	if err != nil {
		return nil, err
	}
	if !p.is(tOp, ",") {
		return first, nil
	}
	elts := []Expr{first}
	for p.accept(tOp, ",") {
		if !p.startsExpr() {
			break
		}
		e, err := p.test()
		if err != nil {
			return nil, err
		}
		elts = append(elts, e)
	}
	return &TupleExpr{pos, elts}, nil
}

// startsExpr reports whether the next token can begin an expression.
func (p *parser) startsExpr() bool {
	t := p.peek()
	switch t.kind {
	case tName:
		return !keywords[t.text] || t.text == "None" || t.text == "True" || t.text == "False" || t.text == "not"
	case tInt, tFloat, tString:
		return true
	case tOp:
		switch t.text {
		case "(", "[", "{", "-", "+", "~":
			return true
		}
	}
	return false
}

// test parses a full expression, including "a if c else b".
func (p *parser) test() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	e, err := p.orTest()
	if err != nil || !p.is(tName, "if") {
		return e, err
	}
	p.next()
	cond, err := p.orTest()
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tName, "else"); err != nil {
		return nil, err
	}
	alt, err := p.test()
	if err != nil {
		return nil, err
	}
	return &IfExpr{Pos: e.Position(), Cond: cond, Then: e, Else: alt}, nil
}

func (p *parser) orTest() (Expr, error) {
	x, err := p.andTest()
	for err == nil && p.is(tName, "or") {
		p.next()
		var y Expr
		if y, err = p.andTest(); err == nil {
			x = &BoolExpr{x.Position(), "or", x, y}
		}
	}
	return x, err
}

func (p *parser) andTest() (Expr, error) {
	x, err := p.notTest()
	for err == nil && p.is(tName, "and") {
		p.next()
		var y Expr
		if y, err = p.notTest(); err == nil {
			x = &BoolExpr{x.Position(), "and", x, y}
		}
	}
	return x, err
}

func (p *parser) notTest() (Expr, error) {
	if t := p.peek(); t.kind == tName && t.text == "not" {
		p.next()
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.notTest()
		if err != nil {
			return nil, err
		}
		return &UnaryExpr{t.pos, "not", x}, nil
	}
	return p.comparison()
}

func (p *parser) comparison() (Expr, error) {
	x, err := p.binary(0)
	if err != nil {
		return nil, err
	}
	cmp := &CompareExpr{Pos: x.Position(), Operands: []Expr{x}}
	for {
		op, ok := p.compareOp()
		if !ok {
			break
		}
		y, err := p.binary(0)
		if err != nil {
			return nil, err
		}
		cmp.Ops = append(cmp.Ops, op)
		cmp.Operands = append(cmp.Operands, y)
	}
	if len(cmp.Ops) == 0 {
		return x, nil
	}
	return cmp, nil
}

func (p *parser) compareOp() (string, bool) {
	t := p.peek()
	switch {
	case t.kind == tOp:
		switch t.text {
		case "<", ">", "==", ">=", "<=", "!=":
			p.next()
			return t.text, true
		}
	case t.kind == tName && t.text == "in":
		p.next()
		return "in", true
	case t.kind == tName && t.text == "is":
		p.next()
		if p.accept(tName, "not") {
			return "is not", true
		}
		return "is", true
	case t.kind == tName && t.text == "not" && p.toks[p.i+1].kind == tName && p.toks[p.i+1].text == "in":
		p.i += 2
		return "not in", true
	}
	return "", false
}

// binaryLevels lists the binary operators from loosest to tightest binding.
var binaryLevels = [][]string{
	{"|"}, {"^"}, {"&"}, {"<<", ">>"}, {"+", "-"}, {"*", "/", "//", "%", "@"},
}

func (p *parser) binary(level int) (Expr, error) {
	if level == len(binaryLevels) {
		return p.factor()
	}
	x, err := p.binary(level + 1)
	for err == nil {
		t := p.peek()
		if t.kind != tOp || !contains(binaryLevels[level], t.text) {
			break
		}
		p.next()
		var y Expr
		if y, err = p.binary(level + 1); err == nil {
			x = &BinaryExpr{x.Position(), t.text, x, y}
		}
	}
	return x, err
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (p *parser) factor() (Expr, error) {
	t := p.peek()
	if t.kind == tOp && (t.text == "-" || t.text == "+" || t.text == "~") {
		p.next()
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.factor()
		if err != nil {
			return nil, err
		}
		return &UnaryExpr{t.pos, t.text, x}, nil
	}
	x, err := p.postfix()
	if err != nil || !p.is(tOp, "**") {
		return x, err
	}
	p.next()
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	y, err := p.factor()
	if err != nil {
		return nil, err
	}
	return &BinaryExpr{x.Position(), "**", x, y}, nil
}

// postfix parses an atom followed by calls, subscripts and attribute accesses.
func (p *parser) postfix() (Expr, error) {
	x, err := p.atom()
	for err == nil {
		t := p.peek()
		if t.kind != tOp {
			break
		}
		switch t.text {
		case ".":
			p.next()
			var name token
			if name, err = p.expect(tName, ""); err == nil {
				x = &AttributeExpr{t.pos, x, name.text}
			}
		case "(":
			p.next()
			x, err = p.callArgs(x, t.pos)
		case "[":
			p.next()
			var idx Expr
			if idx, err = p.subscript(); err == nil {
				x = &SubscriptExpr{t.pos, x, idx}
			}
		default:
			return x, nil
		}
	}
	return x, err
}

func (p *parser) callArgs(fn Expr, pos Pos) (Expr, error) {
	c := &CallExpr{Pos: pos, Func: fn}
	for !p.accept(tOp, ")") {
		t := p.peek()
		if t.kind == tName && p.toks[p.i+1].kind == tOp && p.toks[p.i+1].text == "=" {
			p.i += 2
			v, err := p.test()
			if err != nil {
				return nil, err
			}
			c.Keywords = append(c.Keywords, &Keyword{t.pos, t.text, v})
		} else {
			if len(c.Keywords) > 0 {
				return nil, p.errorf(t.pos, "positional argument after keyword argument")
			}
			v, err := p.test()
			if err != nil {
				return nil, err
			}
			c.Args = append(c.Args, v)
		}
		if !p.accept(tOp, ",") {
			if _, err := p.expect(tOp, ")"); err != nil {
				return nil, err
			}
			break
		}
	}
	return c, nil
}

// subscript parses the inside of x[...] and its closing bracket.
func (p *parser) subscript() (Expr, error) {
	pos := p.peek().pos
	var items []Expr
	trailingComma := false
	for !p.is(tOp, "]") {
		item, err := p.sliceItem()
		if err != nil {
			return nil, err
		}
		items = append(items, item)
		trailingComma = p.accept(tOp, ",")
		if !trailingComma {
			break
		}
	}
	if _, err := p.expect(tOp, "]"); err != nil {
		return nil, err
	}
	switch {
	case len(items) == 0:
		return nil, p.errorf(pos, "empty subscript")
	case len(items) == 1 && !trailingComma:
		return items[0], nil
	}
	return &TupleExpr{pos, items}, nil
}

func (p *parser) sliceItem() (Expr, error) {
	pos := p.peek().pos
	var lo Expr
	var err error
	if !p.is(tOp, ":") {
		if lo, err = p.test(); err != nil || !p.is(tOp, ":") {
			return lo, err
		}
	}
	s := &SliceExpr{Pos: pos, Lo: lo}
	p.next()
	if p.startsExpr() {
		if s.Hi, err = p.test(); err != nil {
			return nil, err
		}
	}
	if p.accept(tOp, ":") && p.startsExpr() {
		s.Step, err = p.test()
	}
	return s, err
}

func (p *parser) atom() (Expr, error) {
	t := p.next()
	switch t.kind {
	case tInt, tFloat:
		return &ConstExpr{t.pos, t.val}, nil
	case tString:
		s := t.val.(string)
		for p.is(tString, "") { // adjacent literals concatenate
			s += p.next().val.(string)
		}
		return &ConstExpr{t.pos, s}, nil
	case tName:
		switch t.text {
		case "None":
			return &ConstExpr{t.pos, nil}, nil
		case "True":
			return &ConstExpr{t.pos, true}, nil
		case "False":
			return &ConstExpr{t.pos, false}, nil
		case "inf":
			return &ConstExpr{t.pos, math.Inf(1)}, nil
		case "nan":
			return &ConstExpr{t.pos, math.NaN()}, nil
		}
		if keywords[t.text] {
			return nil, p.errorf(t.pos, "unexpected keyword %q", t.text)
		}
		return &NameExpr{t.pos, t.text}, nil
	case tOp:
		switch t.text {
		case "(":
			return p.parenthesized(t.pos)
		case "[":
			elts, err := p.elements("]")
			return &ListExpr{t.pos, elts}, err
		case "{":
			return p.dict(t.pos)
		}
	}
	return nil, p.errorf(t.pos, "unexpected %s", t)
}

func (p *parser) parenthesized(pos Pos) (Expr, error) {
	if p.accept(tOp, ")") {
		return &TupleExpr{pos, nil}, nil
	}
	first, err := p.test()
	if err != nil {
		return nil, err
	}
	if p.accept(tOp, ")") {
		return first, nil
	}
	if _, err := p.expect(tOp, ","); err != nil {
		return nil, err
	}
	rest, err := p.elements(")")
	if err != nil {
		return nil, err
	}
	return &TupleExpr{pos, append([]Expr{first}, rest...)}, nil
}

// elements parses comma-separated expressions up to and including the closing token.
func (p *parser) elements(closing string) ([]Expr, error) {
	var elts []Expr
	for !p.accept(tOp, closing) {
		e, err := p.test()
		if err != nil {
			return nil, err
		}
		elts = append(elts, e)
		if !p.accept(tOp, ",") {
			if _, err := p.expect(tOp, closing); err != nil {
				return nil, err
			}
			break
		}
	}
	return elts, nil
}

func (p *parser) dict(pos Pos) (Expr, error) {
	d := &DictExpr{Pos: pos}
	for !p.accept(tOp, "}") {
		k, err := p.test()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tOp, ":"); err != nil {
			return nil, err
		}
		v, err := p.test()
		if err != nil {
			return nil, err
		}
		d.Keys = append(d.Keys, k)
		d.Values = append(d.Values, v)
		if !p.accept(tOp, ",") {
			if _, err := p.expect(tOp, "}"); err != nil {
				return nil, err
			}
			break
		}
	}
	return d, nil
}
