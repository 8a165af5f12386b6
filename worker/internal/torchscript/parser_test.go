package torchscript

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func parseFunc(t *testing.T, body string) *FuncDef {
	t.Helper()
	src := "def f(x: Tensor) -> Tensor:\n" + body
	f, err := Parse("code/__torch__.py", "__torch__", []byte(src))
	if err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	return f.Funcs[0]
}

// statementCases are function bodies with checks on their parsed statements; they also
// seed FuzzParseCode.
var statementCases = []struct {
	name  string
	body  string
	check func(t *testing.T, s []Stmt)
}{
	{"tuple unpacking with trailing comma", "  a, b, = torch.chunk(x, 2, 1)\n", func(t *testing.T, s []Stmt) {
		as := s[0].(*AssignStmt)
		tup := as.Targets[0].(*TupleExpr)
		if len(tup.Elts) != 2 || tup.Elts[1].(*NameExpr).Name != "b" {
			t.Errorf("targets %#v", tup.Elts)
		}
		call := as.Value.(*CallExpr)
		if name, _ := DottedName(call.Func); name != "torch.chunk" || len(call.Args) != 3 {
			t.Errorf("value %#v", call)
		}
	}},
	{"parallel assignment", "  _8, n0 = torch.gt(n1, 0), n1\n", func(t *testing.T, s []Stmt) {
		if v := s[0].(*AssignStmt).Value.(*TupleExpr); len(v.Elts) != 2 {
			t.Errorf("value %#v", v)
		}
	}},
	{"keyword arguments", "  y = torch.div(x, CONSTANTS.c0, rounding_mode=\"trunc\")\n", func(t *testing.T, s []Stmt) {
		call := s[0].(*AssignStmt).Value.(*CallExpr)
		if len(call.Args) != 2 || len(call.Keywords) != 1 || call.Keywords[0].Name != "rounding_mode" ||
			call.Keywords[0].Value.(*ConstExpr).Value != "trunc" {
			t.Errorf("call %#v", call)
		}
		if name, _ := DottedName(call.Args[1]); name != "CONSTANTS.c0" {
			t.Errorf("arg %q", name)
		}
	}},
	{"getattr and method call", "  _0 = getattr(self, \"0\")\n  return (_0).forward(x, )\n", func(t *testing.T, s []Stmt) {
		call := s[1].(*ReturnStmt).Value.(*CallExpr)
		attr := call.Func.(*AttributeExpr)
		if attr.Name != "forward" || attr.X.(*NameExpr).Name != "_0" || len(call.Args) != 1 {
			t.Errorf("call %#v", call)
		}
	}},
	{"if elif else", "  if torch.gt(x, 1):\n    pass\n  elif x is None:\n    y = 1\n  else:\n    ops.prim.RaiseException(\"bad \\\"y\\\"\\n\", \"builtins.RuntimeError\")\n", func(t *testing.T, s []Stmt) {
		outer := s[0].(*IfStmt)
		elif := outer.Else[0].(*IfStmt)
		if cmp := elif.Cond.(*CompareExpr); cmp.Ops[0] != "is" {
			t.Errorf("elif cond %#v", cmp)
		}
		raise := elif.Else[0].(*ExprStmt).X.(*CallExpr)
		if raise.Args[0].(*ConstExpr).Value != "bad \"y\"\n" {
			t.Errorf("string %q", raise.Args[0].(*ConstExpr).Value)
		}
	}},
	{"for range and while", "  for i in range(2):\n    x = torch.add(x, float(i))\n  while _8:\n    n0 -= 1\n", func(t *testing.T, s []Stmt) {
		loop := s[0].(*ForStmt)
		if loop.Target.(*NameExpr).Name != "i" || len(loop.Body) != 1 {
			t.Errorf("for %#v", loop)
		}
		aug := s[1].(*WhileStmt).Body[0].(*AugAssignStmt)
		if aug.Op != "-" {
			t.Errorf("aug op %q", aug.Op)
		}
	}},
	{"subscripts and slices", "  a = (torch.size(x))[0]\n  b = x[:, -1:]\n  c = x[1:2:3]\n  d = x[::2]\n", func(t *testing.T, s []Stmt) {
		if idx := s[0].(*AssignStmt).Value.(*SubscriptExpr).Index.(*ConstExpr); idx.Value != int64(0) {
			t.Errorf("index %#v", idx)
		}
		tup := s[1].(*AssignStmt).Value.(*SubscriptExpr).Index.(*TupleExpr)
		full, tail := tup.Elts[0].(*SliceExpr), tup.Elts[1].(*SliceExpr)
		if full.Lo != nil || full.Hi != nil || tail.Lo.(*UnaryExpr).Op != "-" || tail.Hi != nil {
			t.Errorf("slices %#v %#v", full, tail)
		}
		if sl := s[2].(*AssignStmt).Value.(*SubscriptExpr).Index.(*SliceExpr); sl.Step.(*ConstExpr).Value != int64(3) {
			t.Errorf("step %#v", sl)
		}
		if sl := s[3].(*AssignStmt).Value.(*SubscriptExpr).Index.(*SliceExpr); sl.Lo != nil || sl.Hi != nil || sl.Step == nil {
			t.Errorf("::2 %#v", sl)
		}
	}},
	{"literals", "  return [1, 2.5, 1e-05, 1.0000000000000001e-05, 0., inf, -nan, \"s\", True, False, None, (), (1,), {\"a\": 1}]\n", func(t *testing.T, s []Stmt) {
		elts := s[0].(*ReturnStmt).Value.(*ListExpr).Elts
		want := []any{int64(1), 2.5, 1e-05, 1.0000000000000001e-05, 0.0, math.Inf(1)}
		for i, w := range want {
			if v := elts[i].(*ConstExpr).Value; v != w {
				t.Errorf("literal %d = %#v, want %#v", i, v, w)
			}
		}
		if f := elts[6].(*UnaryExpr).X.(*ConstExpr).Value.(float64); !math.IsNaN(f) {
			t.Errorf("nan = %v", f)
		}
		if elts[7].(*ConstExpr).Value != "s" || elts[8].(*ConstExpr).Value != true || elts[10].(*ConstExpr).Value != nil {
			t.Errorf("literals %#v", elts[7:11])
		}
		if len(elts[11].(*TupleExpr).Elts) != 0 || len(elts[12].(*TupleExpr).Elts) != 1 || len(elts[13].(*DictExpr).Keys) != 1 {
			t.Errorf("containers %#v", elts[11:])
		}
	}},
	{"operator precedence", "  return -a + b * c ** -d // e < f and not g or h if i else j\n", func(t *testing.T, s []Stmt) {
		ife := s[0].(*ReturnStmt).Value.(*IfExpr)
		or := ife.Then.(*BoolExpr)
		and := or.X.(*BoolExpr)
		cmp := and.X.(*CompareExpr)
		sum := cmp.Operands[0].(*BinaryExpr)
		if or.Op != "or" || and.Op != "and" || sum.Op != "+" || sum.X.(*UnaryExpr).Op != "-" {
			t.Fatalf("tree %#v", or)
		}
		floor := sum.Y.(*BinaryExpr)
		mul := floor.X.(*BinaryExpr)
		pow := mul.Y.(*BinaryExpr)
		if floor.Op != "//" || mul.Op != "*" || pow.Op != "**" || pow.Y.(*UnaryExpr).Op != "-" {
			t.Errorf("arithmetic %#v", floor)
		}
	}},
	{"comparison chain and membership", "  return a < b <= c is not d not in e\n", func(t *testing.T, s []Stmt) {
		cmp := s[0].(*ReturnStmt).Value.(*CompareExpr)
		if strings.Join(cmp.Ops, ",") != "<,<=,is not,not in" || len(cmp.Operands) != 5 {
			t.Errorf("ops %q", cmp.Ops)
		}
	}},
	{"annotate, unchecked_cast, uninitialized", "  y = annotate(List[int], [])\n  z = unchecked_cast(Tensor, y)\n  w = uninitialized(Optional[Tensor])\n", func(t *testing.T, s []Stmt) {
		typ := s[0].(*AssignStmt).Value.(*CallExpr).Args[0].(*SubscriptExpr)
		if typ.X.(*NameExpr).Name != "List" {
			t.Errorf("type %#v", typ)
		}
	}},
	{"assert raise del semicolons", "  assert x, \"m\"\n  raise RuntimeError(\"e\")\n  del a, b\n  a = 1; b = 2\n", func(t *testing.T, s []Stmt) {
		if len(s) != 5 || s[0].(*AssertStmt).Msg == nil || len(s[2].(*DelStmt).Targets) != 2 {
			t.Errorf("stmts %#v", s)
		}
	}},
	{"continuation lines and comments", "  y = torch.add(x,  # comment\n      x)\n  z = 1 + \\\n    2\n\n  # only a comment\n  return z\n", func(t *testing.T, s []Stmt) {
		if len(s) != 3 {
			t.Errorf("%d statements", len(s))
		}
		if s[2].Position().Line != 8 {
			t.Errorf("return at %v", s[2].Position())
		}
	}},
}

func TestParseStatements(t *testing.T) {
	for _, tc := range statementCases {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, parseFunc(t, tc.body).Body)
		})
	}
}

// classSource is a class with every kind of declaration; it also seeds FuzzParseCode.
const classSource = `import __torch__.torch.nn.modules.linear
from typing import (List, Optional, )
class Net(Module):
  __parameters__ = ["weight", "bias", ]
  __buffers__ = ["running_mean", ]
  weight : Tensor
  bias : Optional[Tensor]
  running_mean : Tensor
  training : bool
  fc : __torch__.torch.nn.modules.linear.Linear
  __annotations__["0"] = __torch__.torch.nn.modules.conv.Conv2d
  k : Final[int] = 3
  __annotations__["eps"] = Final[float]
  def forward(self: __torch__.Net,
    x: Tensor,
    y: Optional[Tensor]=None) -> Tuple[Tensor, List[int]]:
    return (x, [1])
  def forward1(self: __torch__.Net) -> int:
    return 1
def helper(x: Tensor) -> Tensor:
	return x
`

func TestParseClass(t *testing.T) {
	f, err := Parse("code/__torch__.py", "__torch__", []byte(classSource))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Imports) != 2 || f.Imports[0].Module != "__torch__.torch.nn.modules.linear" ||
		strings.Join(f.Imports[1].Names, ",") != "List,Optional" {
		t.Errorf("imports %#v %#v", f.Imports[0], f.Imports[1])
	}
	c, ok := f.Class("Net")
	if !ok {
		t.Fatal("no class Net")
	}
	if strings.Join(c.Parameters, ",") != "weight,bias" || strings.Join(c.Buffers, ",") != "running_mean" {
		t.Errorf("parameters %q buffers %q", c.Parameters, c.Buffers)
	}
	var names []string
	for _, a := range c.Attrs {
		names = append(names, a.Name)
	}
	if strings.Join(names, ",") != "weight,bias,running_mean,training,fc,0,k,eps" {
		t.Errorf("attrs %q", names)
	}
	if k, _ := c.Attr("k"); !k.Final || k.Value.(*ConstExpr).Value != int64(3) {
		t.Errorf("k %#v", k)
	}
	if eps, _ := c.Attr("eps"); !eps.Final || eps.Value != nil {
		t.Errorf("eps %#v", eps)
	}
	if fc, _ := c.Attr("fc"); fc.Final {
		t.Error("fc is not Final")
	} else if name, _ := DottedName(fc.Type); name != "__torch__.torch.nn.modules.linear.Linear" {
		t.Errorf("fc type %q", name)
	}
	fwd, ok := c.Method("forward")
	if !ok || len(fwd.Params) != 3 || fwd.Params[2].Default.(*ConstExpr).Value != nil || fwd.Returns == nil {
		t.Fatalf("forward %#v", fwd)
	}
	if fwd.Params[1].Pos.Line != 15 || fwd.Pos.String() != "code/__torch__.py:14:3" {
		t.Errorf("positions %v %v", fwd.Params[1].Pos, fwd.Pos)
	}
	if _, ok := c.Method("forward1"); !ok {
		t.Error("no forward1")
	}
	if h, ok := f.Func("helper"); !ok || len(h.Body) != 1 {
		t.Errorf("helper (tab-indented) %#v", h)
	}
}

// errorCases are sources that must fail to parse at pos; they also seed FuzzParseCode.
var errorCases = []struct {
	name string
	src  string
	pos  string
	msg  string
}{
	{"missing colon", "def f(x)\n  return x\n", "1:9", "expected \":\""},
	{"bad dedent", "def f(x):\n    y = 1\n  return x\n", "3:3", "unindent"},
	{"unterminated string", "x = \"abc\n", "1:5", "unterminated string"},
	{"unmatched bracket", "x = (1))\n", "1:8", "unmatched"},
	{"unclosed bracket", "x = (1,\n", "2:1", "expected"},
	{"bad character", "x = $\n", "1:5", "unexpected character"},
	{"keyword as value", "x = class\n", "1:5", "unexpected keyword"},
	{"unsupported statement", "try:\n  pass\n", "1:1", "unsupported statement"},
	{"positional after keyword", "f(a=1, 2)\n", "1:8", "positional argument after keyword"},
	{"integer overflow", "x = 99999999999999999999\n", "1:5", "invalid integer"},
	{"empty block", "if x:\n\n", "3:1", "expected indent"},
	{"non-string parameter list", "class A(Module):\n  __parameters__ = [1]\n", "2:21", "expected a string"},
	{"deep nesting", "x = " + strings.Repeat("(", 500) + "1" + strings.Repeat(")", 500) + "\n", "1:", "nesting deeper"},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("code/__torch__/m.py", "__torch__.m", []byte(tc.src))
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v, want a SyntaxError", err)
			}
			if !strings.HasPrefix(err.Error(), "code/__torch__/m.py:"+tc.pos) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q, want position %s and %q", err, tc.pos, tc.msg)
			}
		})
	}
}
