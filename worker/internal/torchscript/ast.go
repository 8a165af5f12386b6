package torchscript

import "fmt"

// Pos is a source position inside an archive: File is the archive path of the code file
// ("code/__torch__/model.py"); Line and Col count from 1 (Col in bytes).
type Pos struct {
	File      string
	Line, Col int
}

// String formats the position as file:line:col.
func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Node is any AST node.
type Node interface {
	// Position returns where the node starts.
	Position() Pos
}

// Expr is an expression node.
type Expr interface {
	Node
	exprNode()
}

// Stmt is a statement node.
type Stmt interface {
	Node
	stmtNode()
}

// SourceFile is one parsed code/ file.
type SourceFile struct {
	// Path is the archive path ("code/__torch__/torch/nn/modules/linear.py").
	Path string
	// Module is the qualified module name ("__torch__.torch.nn.modules.linear").
	Module string
	// Imports lists the import statements in order.
	Imports []*Import
	// Classes and Funcs are the top-level class and function definitions in order.
	Classes []*ClassDef
	Funcs   []*FuncDef
	// Stmts holds any other top-level statements.
	Stmts []Stmt
}

// Class returns the class called name defined in the file.
func (f *SourceFile) Class(name string) (*ClassDef, bool) {
	for _, c := range f.Classes {
		if c.Name == name {
			return c, true
		}
	}
	return nil, false
}

// Func returns the top-level function called name defined in the file.
func (f *SourceFile) Func(name string) (*FuncDef, bool) {
	for _, fn := range f.Funcs {
		if fn.Name == name {
			return fn, true
		}
	}
	return nil, false
}

// Import is "import a.b.c" (Module "a.b.c") or "from a.b import x, y" (Module "a.b",
// Names ["x", "y"]). Aliases ("as z") are not kept: TorchScript never emits them.
type Import struct {
	Pos
	Module string
	Names  []string
}

// ClassDef is a class: a module (Bases [Module]) or a scripted class. The class body's
// declarations are also collected into Parameters, Buffers and Attrs.
type ClassDef struct {
	Pos
	Name  string
	Bases []Expr
	// Parameters and Buffers are the names listed in __parameters__ and __buffers__.
	Parameters []string
	Buffers    []string
	// Attrs are the typed attribute declarations in order ("conv1 : T",
	// __annotations__["0"] = T, "k : Final[int] = 3").
	Attrs []*AttrDecl
	// Methods are the def statements in order.
	Methods []*FuncDef
	// Body is every statement of the class body, in order.
	Body []Stmt
}

// Method returns the method called name.
func (c *ClassDef) Method(name string) (*FuncDef, bool) {
	for _, m := range c.Methods {
		if m.Name == name {
			return m, true
		}
	}
	return nil, false
}

// Attr returns the attribute declaration called name.
func (c *ClassDef) Attr(name string) (*AttrDecl, bool) {
	for _, a := range c.Attrs {
		if a.Name == name {
			return a, true
		}
	}
	return nil, false
}

// AttrDecl declares one class attribute. Final is set for Final[T] types, whose constant
// Value (an expression, usually a literal) the class carries instead of the object.
type AttrDecl struct {
	Pos
	Name  string
	Type  Expr
	Final bool
	Value Expr
}

// FuncDef is a method or a top-level function.
type FuncDef struct {
	Pos
	Name    string
	Params  []*Param
	Returns Expr // nil when not annotated
	Body    []Stmt
}

// Param is one function parameter; Type and Default may be nil.
type Param struct {
	Pos
	Name    string
	Type    Expr
	Default Expr
}

// Position returns p; embedding Pos gives every node its Node method.
func (p Pos) Position() Pos { return p }

// Statements.
type (
	// AssignStmt is "t1 = t2 = value"; a target may be a *TupleExpr ("a, b, = f()").
	AssignStmt struct {
		Pos
		Targets []Expr
		Value   Expr
	}
	// AugAssignStmt is "target op= value" with Op "+", "-", "*", ....
	AugAssignStmt struct {
		Pos
		Op     string
		Target Expr
		Value  Expr
	}
	// AnnAssignStmt is "target : Type" or "target : Type = value" (Value may be nil).
	AnnAssignStmt struct {
		Pos
		Target Expr
		Type   Expr
		Value  Expr
	}
	// ExprStmt is an expression evaluated for its effect (a call).
	ExprStmt struct {
		Pos
		X Expr
	}
	// IfStmt is if/elif/else; an elif is an IfStmt alone in Else.
	IfStmt struct {
		Pos
		Cond Expr
		Body []Stmt
		Else []Stmt
	}
	// ForStmt is "for target in iter:".
	ForStmt struct {
		Pos
		Target Expr
		Iter   Expr
		Body   []Stmt
	}
	// WhileStmt is "while cond:".
	WhileStmt struct {
		Pos
		Cond Expr
		Body []Stmt
	}
	// ReturnStmt is "return" with an optional value.
	ReturnStmt struct {
		Pos
		Value Expr
	}
	// PassStmt is "pass".
	PassStmt struct{ Pos }
	// BreakStmt is "break".
	BreakStmt struct{ Pos }
	// ContinueStmt is "continue".
	ContinueStmt struct{ Pos }
	// AssertStmt is "assert cond[, msg]".
	AssertStmt struct {
		Pos
		Cond, Msg Expr
	}
	// RaiseStmt is "raise [exc]".
	RaiseStmt struct {
		Pos
		Exc Expr
	}
	// DelStmt is "del targets".
	DelStmt struct {
		Pos
		Targets []Expr
	}
)

// Expressions.
type (
	// NameExpr is an identifier ("x", "torch", "CONSTANTS").
	NameExpr struct {
		Pos
		Name string
	}
	// AttributeExpr is "x.name".
	AttributeExpr struct {
		Pos
		X    Expr
		Name string
	}
	// CallExpr is "fn(args, name=value)".
	CallExpr struct {
		Pos
		Func     Expr
		Args     []Expr
		Keywords []*Keyword
	}
	// SubscriptExpr is "x[index]"; a multi-part index is a *TupleExpr, a slice a *SliceExpr.
	SubscriptExpr struct {
		Pos
		X     Expr
		Index Expr
	}
	// SliceExpr is "lo:hi:step" inside a subscript; parts may be nil.
	SliceExpr struct {
		Pos
		Lo, Hi, Step Expr
	}
	// TupleExpr is "(a, b)" or a bare "a, b".
	TupleExpr struct {
		Pos
		Elts []Expr
	}
	// ListExpr is "[a, b]".
	ListExpr struct {
		Pos
		Elts []Expr
	}
	// DictExpr is "{k: v}".
	DictExpr struct {
		Pos
		Keys, Values []Expr
	}
	// ConstExpr is a literal: Value is int64, float64 (also inf and nan), string, bool or
	// nil (None).
	ConstExpr struct {
		Pos
		Value any
	}
	// UnaryExpr is "-x", "+x", "~x" or "not x".
	UnaryExpr struct {
		Pos
		Op string
		X  Expr
	}
	// BinaryExpr is "x op y" for arithmetic and bitwise operators ("+", "//", "**", "@", ...).
	BinaryExpr struct {
		Pos
		Op   string
		X, Y Expr
	}
	// BoolExpr is "x and y" or "x or y".
	BoolExpr struct {
		Pos
		Op   string
		X, Y Expr
	}
	// CompareExpr is a comparison chain "x op1 y op2 z": Ops has one entry per operator
	// ("<", "==", "is", "is not", "in", "not in", ...), Operands one more.
	CompareExpr struct {
		Pos
		Ops      []string
		Operands []Expr
	}
	// IfExpr is "a if cond else b".
	IfExpr struct {
		Pos
		Cond, Then, Else Expr
	}
)

// Keyword is one "name=value" call argument.
type Keyword struct {
	Pos
	Name  string
	Value Expr
}

func (*AssignStmt) stmtNode()    {}
func (*AugAssignStmt) stmtNode() {}
func (*AnnAssignStmt) stmtNode() {}
func (*ExprStmt) stmtNode()      {}
func (*IfStmt) stmtNode()        {}
func (*ForStmt) stmtNode()       {}
func (*WhileStmt) stmtNode()     {}
func (*ReturnStmt) stmtNode()    {}
func (*PassStmt) stmtNode()      {}
func (*BreakStmt) stmtNode()     {}
func (*ContinueStmt) stmtNode()  {}
func (*AssertStmt) stmtNode()    {}
func (*RaiseStmt) stmtNode()     {}
func (*DelStmt) stmtNode()       {}
func (*ClassDef) stmtNode()      {}
func (*FuncDef) stmtNode()       {}
func (*Import) stmtNode()        {}

func (*NameExpr) exprNode()      {}
func (*AttributeExpr) exprNode() {}
func (*CallExpr) exprNode()      {}
func (*SubscriptExpr) exprNode() {}
func (*SliceExpr) exprNode()     {}
func (*TupleExpr) exprNode()     {}
func (*ListExpr) exprNode()      {}
func (*DictExpr) exprNode()      {}
func (*ConstExpr) exprNode()     {}
func (*UnaryExpr) exprNode()     {}
func (*BinaryExpr) exprNode()    {}
func (*BoolExpr) exprNode()      {}
func (*CompareExpr) exprNode()   {}
func (*IfExpr) exprNode()        {}

// DottedName returns the dotted form of a chain of names and attributes ("torch.nn.x")
// and true, or "" and false for any other expression.
func DottedName(e Expr) (string, bool) {
	switch x := e.(type) {
	case *NameExpr:
		return x.Name, true
	case *AttributeExpr:
		if base, ok := DottedName(x.X); ok {
			return base + "." + x.Name, true
		}
	}
	return "", false
}
