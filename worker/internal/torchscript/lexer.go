package torchscript

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tNewline
	tIndent
	tDedent
	tName
	tInt
	tFloat
	tString
	tOp
)

var tokNames = [...]string{"end of file", "newline", "indent", "dedent", "name", "integer", "float", "string", "operator"}

type token struct {
	kind tokKind
	text string // names and operators as written
	val  any    // int64, float64 or string for literals
	pos  Pos
}

func (t token) String() string {
	if t.kind == tName || t.kind == tOp {
		return strconv.Quote(t.text)
	}
	return tokNames[t.kind]
}

// SyntaxError is a code file that does not parse; it wraps ErrSyntax.
type SyntaxError struct {
	Pos Pos
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s: torchscript: %s", e.Pos, e.Msg) }

// Unwrap returns ErrSyntax.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// operators, longest first so that the lexer takes the longest match.
var operators = []string{
	"**=", "//=", ">>=", "<<=",
	"->", "**", "//", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=", "<<", ">>",
	"+", "-", "*", "/", "%", "@", "&", "|", "^", "~", "<", ">", "(", ")", "[", "]", "{", "}", ",", ":", ".", ";", "=",
}

// lexer turns Python source into tokens with INDENT/DEDENT, following Python's rules:
// newlines inside brackets and after a backslash join lines, blank and comment lines are
// skipped, and a tab advances to the next multiple of 8 columns.
type lexer struct {
	src     string
	file    string
	off     int
	line    int
	lineOff int
	depth   int
	indents []int
	toks    []token
}

func tokenize(file, src string) ([]token, error) {
	lx := &lexer{src: src, file: file, line: 1, indents: []int{0}}
	if err := lx.run(); err != nil {
		return nil, err
	}
	return lx.toks, nil
}

func (lx *lexer) pos() Pos { return Pos{lx.file, lx.line, lx.off - lx.lineOff + 1} }

func (lx *lexer) errorf(format string, args ...any) error {
	return &SyntaxError{Pos: lx.pos(), Msg: fmt.Sprintf(format, args...)}
}

func (lx *lexer) emit(kind tokKind, text string, val any, pos Pos) {
	lx.toks = append(lx.toks, token{kind: kind, text: text, val: val, pos: pos})
}

func (lx *lexer) run() error {
	atLineStart := true
	for {
		if atLineStart && lx.depth == 0 {
			done, err := lx.indentation()
			if err != nil || done {
				return err
			}
			atLineStart = false
		}
		if lx.off >= len(lx.src) {
			lx.finish()
			return nil
		}
		c := lx.src[lx.off]
		switch {
		case c == '\n':
			if lx.depth == 0 {
				lx.emit(tNewline, "", nil, lx.pos())
				atLineStart = true
			}
			lx.newline()
		case c == ' ' || c == '\t' || c == '\r' || c == '\f':
			lx.off++
		case c == '#':
			lx.skipComment()
		case c == '\\' && strings.HasPrefix(lx.src[lx.off:], "\\\n"):
			lx.off++
			lx.newline()
		case isNameStart(c):
			start, pos := lx.off, lx.pos()
			for lx.off < len(lx.src) && isNameChar(lx.src[lx.off]) {
				lx.off++
			}
			lx.emit(tName, lx.src[start:lx.off], nil, pos)
		case isDigit(c) || c == '.' && lx.off+1 < len(lx.src) && isDigit(lx.src[lx.off+1]):
			if err := lx.number(); err != nil {
				return err
			}
		case c == '"' || c == '\'':
			if err := lx.str(); err != nil {
				return err
			}
		default:
			if err := lx.operator(); err != nil {
				return err
			}
		}
	}
}

// indentation measures the indentation of the next non-blank line and emits INDENT or
// DEDENT tokens; done is true at the end of the input.
func (lx *lexer) indentation() (done bool, err error) {
	for {
		col := 0
		for lx.off < len(lx.src) {
			switch lx.src[lx.off] {
			case ' ':
				col++
			case '\t':
				col = (col/8 + 1) * 8
			case '\f', '\r':
			default:
				goto measured
			}
			lx.off++
		}
	measured:
		if lx.off >= len(lx.src) {
			lx.finish()
			return true, nil
		}
		switch lx.src[lx.off] {
		case '\n':
			lx.newline()
			continue
		case '#':
			lx.skipComment()
			continue
		}
		top := lx.indents[len(lx.indents)-1]
		switch {
		case col > top:
			lx.indents = append(lx.indents, col)
			lx.emit(tIndent, "", nil, lx.pos())
		case col < top:
			for col < lx.indents[len(lx.indents)-1] {
				lx.indents = lx.indents[:len(lx.indents)-1]
				lx.emit(tDedent, "", nil, lx.pos())
			}
			if col != lx.indents[len(lx.indents)-1] {
				return false, lx.errorf("unindent does not match any outer indentation level")
			}
		}
		return false, nil
	}
}

func (lx *lexer) finish() {
	if n := len(lx.toks); n > 0 && lx.toks[n-1].kind != tNewline && lx.toks[n-1].kind != tDedent {
		lx.emit(tNewline, "", nil, lx.pos())
	}
	for len(lx.indents) > 1 {
		lx.indents = lx.indents[:len(lx.indents)-1]
		lx.emit(tDedent, "", nil, lx.pos())
	}
	lx.emit(tEOF, "", nil, lx.pos())
}

func (lx *lexer) newline() {
	lx.off++
	lx.line++
	lx.lineOff = lx.off
}

func (lx *lexer) skipComment() {
	for lx.off < len(lx.src) && lx.src[lx.off] != '\n' {
		lx.off++
	}
}

func (lx *lexer) number() error {
	start, pos := lx.off, lx.pos()
	isFloat := false
	for lx.off < len(lx.src) {
		c := lx.src[lx.off]
		switch {
		case isDigit(c) || c == '_':
		case c == '.':
			isFloat = true
		case c == 'e' || c == 'E':
			isFloat = true
			if lx.off+1 < len(lx.src) && (lx.src[lx.off+1] == '+' || lx.src[lx.off+1] == '-') {
				lx.off++
			}
		default:
			goto scanned
		}
		lx.off++
	}
scanned:
	text := lx.src[start:lx.off]
	if lx.off < len(lx.src) && isNameChar(lx.src[lx.off]) {
		return lx.errorf("invalid number literal %q", text+string(lx.src[lx.off]))
	}
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return &SyntaxError{Pos: pos, Msg: fmt.Sprintf("invalid float literal %q", text)}
		}
		lx.emit(tFloat, text, f, pos)
		return nil
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || len(text) > 1 && text[0] == '0' {
		return &SyntaxError{Pos: pos, Msg: fmt.Sprintf("invalid integer literal %q", text)}
	}
	lx.emit(tInt, text, n, pos)
	return nil
}

// str scans a single-quoted or double-quoted string literal with Python's escapes.
func (lx *lexer) str() error {
	pos := lx.pos()
	quote := lx.src[lx.off]
	lx.off++
	var b strings.Builder
	for {
		if lx.off >= len(lx.src) || lx.src[lx.off] == '\n' {
			return &SyntaxError{Pos: pos, Msg: "unterminated string literal"}
		}
		c := lx.src[lx.off]
		lx.off++
		if c == quote {
			break
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if lx.off >= len(lx.src) {
			return &SyntaxError{Pos: pos, Msg: "unterminated string literal"}
		}
		e := lx.src[lx.off]
		lx.off++
		switch e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '\\', '\'', '"':
			b.WriteByte(e)
		case '\n':
			lx.line++
			lx.lineOff = lx.off
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if len(lx.src)-lx.off < n {
				return lx.errorf("truncated \\%c escape", e)
			}
			v, err := strconv.ParseUint(lx.src[lx.off:lx.off+n], 16, 32)
			if err != nil || v > utf8.MaxRune {
				return lx.errorf("invalid \\%c escape", e)
			}
			lx.off += n
			if e == 'x' {
				b.WriteByte(byte(v))
			} else {
				b.WriteRune(rune(v))
			}
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(e - '0')
			for k := 0; k < 2 && lx.off < len(lx.src) && lx.src[lx.off] >= '0' && lx.src[lx.off] <= '7'; k++ {
				v = v*8 + int(lx.src[lx.off]-'0')
				lx.off++
			}
			b.WriteByte(byte(v))
		default:
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	lx.emit(tString, "", b.String(), pos)
	return nil
}

func (lx *lexer) operator() error {
	rest := lx.src[lx.off:]
	for _, op := range operators {
		if !strings.HasPrefix(rest, op) {
			continue
		}
		switch op {
		case "(", "[", "{":
			lx.depth++
		case ")", "]", "}":
			if lx.depth == 0 {
				return lx.errorf("unmatched %q", op)
			}
			lx.depth--
		}
		lx.emit(tOp, op, nil, lx.pos())
		lx.off += len(op)
		return nil
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return lx.errorf("unexpected character %q", r)
}

func isNameStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isNameChar(c byte) bool  { return isNameStart(c) || isDigit(c) }
func isDigit(c byte) bool     { return '0' <= c && c <= '9' }
