package torchscript

import "fmt"

// maxParseDepth bounds nesting of blocks and expressions.
const maxParseDepth = 200

// Parse parses the TorchScript code file at archive path file (used in positions) whose
// qualified module name is module.
func Parse(file, module string, src []byte) (*SourceFile, error) {
	toks, err := tokenize(file, string(src))
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	f := &SourceFile{Path: file, Module: module}
	for p.peek().kind != tEOF {
		if p.accept(tNewline, "") {
			continue
		}
		s, err := p.statement()
		if err != nil {
			return nil, err
		}
		for _, st := range s {
			switch x := st.(type) {
			case *Import:
				f.Imports = append(f.Imports, x)
			case *ClassDef:
				f.Classes = append(f.Classes, x)
			case *FuncDef:
				f.Funcs = append(f.Funcs, x)
			default:
				f.Stmts = append(f.Stmts, st)
			}
		}
	}
	return f, nil
}

type parser struct {
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// is reports whether the next token has kind and, for names and operators, text.
func (p *parser) is(kind tokKind, text string) bool {
	t := p.peek()
	return t.kind == kind && (text == "" || t.text == text)
}

func (p *parser) accept(kind tokKind, text string) bool {
	if p.is(kind, text) {
		p.next()
		return true
	}
	return false
}

func (p *parser) expect(kind tokKind, text string) (token, error) {
	if !p.is(kind, text) {
		want := tokNames[kind]
		if text != "" {
			want = fmt.Sprintf("%q", text)
		}
		return token{}, p.errorf(p.peek().pos, "expected %s, found %s", want, p.peek())
	}
	return p.next(), nil
}

func (p *parser) errorf(pos Pos, format string, args ...any) error {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxParseDepth {
		return p.errorf(p.peek().pos, "nesting deeper than %d", maxParseDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

var keywords = map[string]bool{
	"and": true, "as": true, "assert": true, "break": true, "class": true, "continue": true,
	"def": true, "del": true, "elif": true, "else": true, "for": true, "from": true,
	"global": true, "if": true, "import": true, "in": true, "is": true, "lambda": true,
	"nonlocal": true, "not": true, "or": true, "pass": true, "raise": true, "return": true,
	"while": true, "with": true, "yield": true, "try": true, "except": true, "finally": true,
	"None": true, "True": true, "False": true,
}

// statement parses one statement line or compound statement; a line of simple statements
// separated by ";" gives several.
func (p *parser) statement() ([]Stmt, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	t := p.peek()
	if t.kind == tName {
		switch t.text {
		case "class":
			s, err := p.classDef()
			return []Stmt{s}, err
		case "def":
			s, err := p.funcDef()
			return []Stmt{s}, err
		case "if":
			p.next()
			s, err := p.ifStmt(t.pos)
			return []Stmt{s}, err
		case "for":
			s, err := p.forStmt()
			return []Stmt{s}, err
		case "while":
			s, err := p.whileStmt()
			return []Stmt{s}, err
		}
	}
	return p.simpleLine()
}

func (p *parser) simpleLine() ([]Stmt, error) {
	var out []Stmt
	for {
		s, err := p.simple()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		if !p.accept(tOp, ";") || p.is(tNewline, "") {
			break
		}
	}
	if _, err := p.expect(tNewline, ""); err != nil {
		return nil, err
	}
	return out, nil
}

func (p *parser) simple() (Stmt, error) {
	t := p.peek()
	if t.kind == tName {
		switch t.text {
		case "pass":
			p.next()
			return &PassStmt{t.pos}, nil
		case "break":
			p.next()
			return &BreakStmt{t.pos}, nil
		case "continue":
			p.next()
			return &ContinueStmt{t.pos}, nil
		case "return":
			p.next()
			s := &ReturnStmt{Pos: t.pos}
			if p.is(tNewline, "") || p.is(tOp, ";") {
				return s, nil
			}
			var err error
			s.Value, err = p.exprList()
			return s, err
		case "raise":
			p.next()
			s := &RaiseStmt{Pos: t.pos}
			if p.is(tNewline, "") || p.is(tOp, ";") {
				return s, nil
			}
			var err error
			s.Exc, err = p.test()
			return s, err
		case "assert":
			p.next()
			s := &AssertStmt{Pos: t.pos}
			var err error
			if s.Cond, err = p.test(); err != nil {
				return nil, err
			}
			if p.accept(tOp, ",") {
				s.Msg, err = p.test()
			}
			return s, err
		case "del":
			p.next()
			e, err := p.exprList()
			if err != nil {
				return nil, err
			}
			if tup, ok := e.(*TupleExpr); ok {
				return &DelStmt{t.pos, tup.Elts}, nil
			}
			return &DelStmt{t.pos, []Expr{e}}, nil
		case "import", "from":
			return p.importStmt()
		}
		if keywords[t.text] && t.text != "None" && t.text != "True" && t.text != "False" && t.text != "not" {
			return nil, p.errorf(t.pos, "unsupported statement %q", t.text)
		}
	}
	return p.exprStatement()
}

func (p *parser) exprStatement() (Stmt, error) {
	pos := p.peek().pos
	first, err := p.exprList()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case t.kind == tOp && t.text == "=":
		targets := []Expr{first}
		var value Expr
		for p.accept(tOp, "=") {
			if value, err = p.exprList(); err != nil {
				return nil, err
			}
			targets = append(targets, value)
		}
		return &AssignStmt{Pos: pos, Targets: targets[:len(targets)-1], Value: value}, nil
	case t.kind == tOp && t.text == ":":
		p.next()
		s := &AnnAssignStmt{Pos: pos, Target: first}
		if s.Type, err = p.test(); err != nil {
			return nil, err
		}
		if p.accept(tOp, "=") {
			s.Value, err = p.exprList()
		}
		return s, err
	case t.kind == tOp && len(t.text) >= 2 && t.text[len(t.text)-1] == '=' &&
		t.text != "==" && t.text != "!=" && t.text != "<=" && t.text != ">=":
		p.next()
		value, err := p.exprList()
		return &AugAssignStmt{Pos: pos, Op: t.text[:len(t.text)-1], Target: first, Value: value}, err
	}
	return &ExprStmt{pos, first}, nil
}

func (p *parser) importStmt() (Stmt, error) {
	t := p.next()
	s := &Import{Pos: t.pos}
	var err error
	if s.Module, err = p.dotted(); err != nil {
		return nil, err
	}
	if t.text == "import" {
		return s, nil
	}
	if _, err := p.expect(tName, "import"); err != nil {
		return nil, err
	}
	paren := p.accept(tOp, "(")
	for {
		name, err := p.expect(tName, "")
		if err != nil {
			return nil, err
		}
		s.Names = append(s.Names, name.text)
		if !p.accept(tOp, ",") || paren && p.is(tOp, ")") {
			break
		}
	}
	if paren {
		if _, err := p.expect(tOp, ")"); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (p *parser) dotted() (string, error) {
	name, err := p.expect(tName, "")
	if err != nil {
		return "", err
	}
	s := name.text
	for p.accept(tOp, ".") {
		if name, err = p.expect(tName, ""); err != nil {
			return "", err
		}
		s += "." + name.text
	}
	return s, nil
}

// block parses ":" followed by an indented suite or simple statements on the same line.
func (p *parser) block() ([]Stmt, error) {
	if _, err := p.expect(tOp, ":"); err != nil {
		return nil, err
	}
	if !p.accept(tNewline, "") {
		return p.simpleLine()
	}
	if _, err := p.expect(tIndent, ""); err != nil {
		return nil, err
	}
	var body []Stmt
	for !p.accept(tDedent, "") {
		if p.is(tEOF, "") {
			return nil, p.errorf(p.peek().pos, "unexpected end of file in block")
		}
		s, err := p.statement()
		if err != nil {
			return nil, err
		}
		body = append(body, s...)
	}
	return body, nil
}

func (p *parser) classDef() (*ClassDef, error) {
	kw := p.next()
	name, err := p.expect(tName, "")
	if err != nil {
		return nil, err
	}
	c := &ClassDef{Pos: kw.pos, Name: name.text}
	if p.accept(tOp, "(") {
		if !p.is(tOp, ")") {
			e, err := p.exprList()
			if err != nil {
				return nil, err
			}
			if tup, ok := e.(*TupleExpr); ok {
				c.Bases = tup.Elts
			} else {
				c.Bases = []Expr{e}
			}
		}
		if _, err := p.expect(tOp, ")"); err != nil {
			return nil, err
		}
	}
	if c.Body, err = p.block(); err != nil {
		return nil, err
	}
	return c, c.collect()
}

// collect fills the declaration summaries of a class from its body.
func (c *ClassDef) collect() error {
	for _, s := range c.Body {
		switch x := s.(type) {
		case *FuncDef:
			c.Methods = append(c.Methods, x)
		case *AnnAssignStmt:
			if n, ok := x.Target.(*NameExpr); ok {
				c.Attrs = append(c.Attrs, &AttrDecl{Pos: x.Pos, Name: n.Name, Type: x.Type, Final: isFinal(x.Type), Value: x.Value})
			}
		case *AssignStmt:
			if len(x.Targets) != 1 {
				continue
			}
			switch t := x.Targets[0].(type) {
			case *NameExpr:
				if t.Name != "__parameters__" && t.Name != "__buffers__" {
					continue
				}
				names, err := stringList(x.Value)
				if err != nil {
					return err
				}
				if t.Name == "__parameters__" {
					c.Parameters = names
				} else {
					c.Buffers = names
				}
			case *SubscriptExpr:
				base, ok := t.X.(*NameExpr)
				name, isStr := constString(t.Index)
				if ok && isStr && base.Name == "__annotations__" {
					c.Attrs = append(c.Attrs, &AttrDecl{Pos: x.Pos, Name: name, Type: x.Value, Final: isFinal(x.Value)})
				}
			}
		}
	}
	return nil
}

func isFinal(typ Expr) bool {
	s, ok := typ.(*SubscriptExpr)
	if !ok {
		return false
	}
	name, _ := DottedName(s.X)
	return name == "Final" || name == "typing.Final"
}

func stringList(e Expr) ([]string, error) {
	l, ok := e.(*ListExpr)
	if !ok {
		return nil, &SyntaxError{Pos: e.Position(), Msg: "expected a list of names"}
	}
	out := make([]string, 0, len(l.Elts))
	for _, el := range l.Elts {
		s, ok := constString(el)
		if !ok {
			return nil, &SyntaxError{Pos: el.Position(), Msg: "expected a string"}
		}
		out = append(out, s)
	}
	return out, nil
}

// constString returns the value of a string literal.
func constString(e Expr) (string, bool) {
	c, ok := e.(*ConstExpr)
	if !ok {
		return "", false
	}
	s, ok := c.Value.(string)
	return s, ok
}

func (p *parser) funcDef() (*FuncDef, error) {
	kw := p.next()
	name, err := p.expect(tName, "")
	if err != nil {
		return nil, err
	}
	f := &FuncDef{Pos: kw.pos, Name: name.text}
	if _, err := p.expect(tOp, "("); err != nil {
		return nil, err
	}
	for !p.accept(tOp, ")") {
		pt, err := p.expect(tName, "")
		if err != nil {
			return nil, err
		}
		prm := &Param{Pos: pt.pos, Name: pt.text}
		if p.accept(tOp, ":") {
			if prm.Type, err = p.test(); err != nil {
				return nil, err
			}
		}
		if p.accept(tOp, "=") {
			if prm.Default, err = p.test(); err != nil {
				return nil, err
			}
		}
		f.Params = append(f.Params, prm)
		if !p.accept(tOp, ",") {
			if _, err := p.expect(tOp, ")"); err != nil {
				return nil, err
			}
			break
		}
	}
	if p.accept(tOp, "->") {
		if f.Returns, err = p.test(); err != nil {
			return nil, err
		}
	}
	f.Body, err = p.block()
	return f, err
}

// ifStmt parses the rest of an if or elif after its keyword at pos.
func (p *parser) ifStmt(pos Pos) (*IfStmt, error) {
	s := &IfStmt{Pos: pos}
	var err error
	if s.Cond, err = p.test(); err != nil {
		return nil, err
	}
	if s.Body, err = p.block(); err != nil {
		return nil, err
	}
	switch t := p.peek(); {
	case t.kind == tName && t.text == "elif":
		p.next()
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		elif, err := p.ifStmt(t.pos)
		if err != nil {
			return nil, err
		}
		s.Else = []Stmt{elif}
	case t.kind == tName && t.text == "else":
		p.next()
		s.Else, err = p.block()
	}
	return s, err
}

func (p *parser) forStmt() (*ForStmt, error) {
	kw := p.next()
	s := &ForStmt{Pos: kw.pos}
	var err error
	if s.Target, err = p.targetList(); err != nil {
		return nil, err
	}
	if _, err := p.expect(tName, "in"); err != nil {
		return nil, err
	}
	if s.Iter, err = p.exprList(); err != nil {
		return nil, err
	}
	s.Body, err = p.block()
	return s, err
}

// targetList parses the loop variables of a for statement (stopping before "in").
func (p *parser) targetList() (Expr, error) {
	pos := p.peek().pos
	var elts []Expr
	for {
		e, err := p.binary(0)
		if err != nil {
			return nil, err
		}
		elts = append(elts, e)
		if !p.accept(tOp, ",") || p.is(tName, "in") {
			if len(elts) == 1 && p.toks[p.i-1].text != "," {
				return e, nil
			}
			return &TupleExpr{pos, elts}, nil
		}
	}
}

func (p *parser) whileStmt() (*WhileStmt, error) {
	kw := p.next()
	s := &WhileStmt{Pos: kw.pos}
	var err error
	if s.Cond, err = p.test(); err != nil {
		return nil, err
	}
	s.Body, err = p.block()
	return s, err
}
