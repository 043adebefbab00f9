package rules

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// MaxExpressionLen is Cloudflare's limit on the length of an expression, in bytes.
const MaxExpressionLen = 4096

// SyntaxError names the position (0-based byte offset into the expression) and what was
// expected there. Type errors (a string compared with an IP field, a bad regexp) are reported
// the same way, at the offending token.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("position %d: %s", e.Pos, e.Msg)
}

// Expr is a compiled boolean expression. It is immutable and safe for concurrent use.
type Expr struct {
	src  string
	root node
}

// newParser checks the limits every expression shares (length, not empty)
// and returns a parser positioned at its first token.
func newParser(expr string, s *Schema) (*parser, error) {
	if len(expr) > MaxExpressionLen {
		return nil, &SyntaxError{Pos: MaxExpressionLen, Msg: fmt.Sprintf("expression is %d bytes long; the limit is %d", len(expr), MaxExpressionLen)}
	}
	p := &parser{src: expr, schema: s}
	p.skipSpace()
	if p.eof() {
		return nil, p.errf(p.pos, "empty expression")
	}
	return p, nil
}

// Compile compiles a boolean expression written in the subset of Cloudflare's Rules language
// described in the package documentation, resolving field names against s.
func Compile(expr string, s *Schema) (*Expr, error) {
	p, err := newParser(expr, s)
	if err != nil {
		return nil, err
	}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if !p.eof() {
		if p.src[p.pos] == ')' {
			return nil, p.errf(p.pos, "unbalanced \")\": no \"(\" to close")
		}
		return nil, p.errf(p.pos, "expected and, or, xor or end of expression, found %s", p.describe())
	}
	return &Expr{src: expr, root: root}, nil
}

// Eval reports whether the expression holds for the field values in env. A nil Expr is false.
func (e *Expr) Eval(env Env) bool {
	if e == nil || e.root == nil {
		return false
	}
	return e.root.eval(env)
}

// String returns the expression's source text as given to Compile.
func (e *Expr) String() string {
	if e == nil {
		return ""
	}
	return e.src
}

type parser struct {
	src    string
	pos    int
	schema *Schema
}

func (p *parser) errf(pos int, format string, args ...any) error {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) eof() bool { return p.pos >= len(p.src) }

func (p *parser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '.'
}

// word returns the identifier (field name or keyword) at the current position, without
// consuming it; "" if there is none.
func (p *parser) word() string {
	if p.eof() || !isIdentStart(p.src[p.pos]) {
		return ""
	}
	end := p.pos + 1
	for end < len(p.src) && isIdentChar(p.src[end]) {
		end++
	}
	return p.src[p.pos:end]
}

// describe names what is at the current position, for error messages.
func (p *parser) describe() string {
	if p.eof() {
		return "end of expression"
	}
	if w := p.word(); w != "" {
		return fmt.Sprintf("%q", w)
	}
	end := p.pos + 1
	for end < len(p.src) && end-p.pos < 8 && p.src[end] != ' ' {
		end++
	}
	return fmt.Sprintf("%q", p.src[p.pos:end])
}

// accept consumes keyword w or symbol sym at the current position and reports whether it did.
func (p *parser) accept(w, sym string) bool {
	if sym != "" && strings.HasPrefix(p.src[p.pos:], sym) {
		p.pos += len(sym)
		return true
	}
	if w != "" && p.word() == w {
		p.pos += len(w)
		return true
	}
	return false
}

// parseOr: or / || has the lowest precedence.
func (p *parser) parseOr() (node, error) {
	return p.parseChain("or", "||", p.parseXor, func(xs []node) node { return &orNode{xs} })
}

func (p *parser) parseXor() (node, error) {
	return p.parseChain("xor", "^^", p.parseAnd, func(xs []node) node { return &xorNode{xs} })
}

func (p *parser) parseAnd() (node, error) {
	return p.parseChain("and", "&&", p.parseNot, func(xs []node) node { return &andNode{xs} })
}

func (p *parser) parseChain(w, sym string, next func() (node, error), mk func([]node) node) (node, error) {
	first, err := next()
	if err != nil {
		return nil, err
	}
	var xs []node
	for {
		p.skipSpace()
		opPos := p.pos
		if !p.accept(w, sym) {
			break
		}
		opText := p.src[opPos:p.pos]
		p.skipSpace()
		if p.eof() {
			return nil, p.errf(p.pos, "expected an operand after %q at position %d, found end of expression", opText, opPos)
		}
		n, err := next()
		if err != nil {
			return nil, err
		}
		if xs == nil {
			xs = []node{first}
		}
		xs = append(xs, n)
	}
	if xs == nil {
		return first, nil
	}
	return mk(xs), nil
}

// parseNot: not / ! binds tightest of the logical operators.
func (p *parser) parseNot() (node, error) {
	p.skipSpace()
	if strings.HasPrefix(p.src[p.pos:], "!") && !strings.HasPrefix(p.src[p.pos:], "!=") {
		p.pos++
	} else if !p.accept("not", "") {
		return p.parsePrimary()
	}
	p.skipSpace()
	x, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	// Fold negation into the leaf where that saves a call per evaluation.
	switch n := x.(type) {
	case constNode:
		return !n, nil
	case *boolField:
		return &boolField{id: n.id, neg: !n.neg}, nil
	case *notNode:
		return n.x, nil
	}
	return &notNode{x}, nil
}

func (p *parser) parsePrimary() (node, error) {
	p.skipSpace()
	start := p.pos
	if p.eof() {
		return nil, p.errf(p.pos, "unexpected end of expression, expected a field, true, false, not or \"(\"")
	}
	if p.src[p.pos] == '(' {
		p.pos++
		p.skipSpace()
		if !p.eof() && p.src[p.pos] == ')' {
			return nil, p.errf(p.pos, "empty parentheses")
		}
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.eof() || p.src[p.pos] != ')' {
			return nil, p.errf(p.pos, "expected \")\" to close \"(\" at position %d, found %s", start, p.describe())
		}
		p.pos++
		return x, nil
	}
	w := p.word()
	switch w {
	case "":
		return nil, p.errf(p.pos, "expected a field, true, false, not or \"(\", found %s", p.describe())
	case "true", "false":
		p.pos += len(w)
		return constNode(w == "true"), nil
	case "and", "or", "xor", "eq", "ne", "lt", "le", "gt", "ge", "contains", "matches", "in":
		return nil, p.errf(p.pos, "expected a field, true, false, not or \"(\", found operator %q", w)
	}
	p.pos += len(w)
	if !p.eof() && p.src[p.pos] == '(' {
		return nil, p.errf(start, "unknown function %q: functions are not supported", w)
	}
	if !p.eof() && p.src[p.pos] == '[' {
		return nil, p.errf(start, "field %q cannot be indexed", w)
	}
	id, kind, ok := p.schema.Lookup(w)
	if !ok {
		return nil, p.errf(start, "unknown field %q", w)
	}
	p.skipSpace()
	opPos := p.pos
	op, opText := p.parseOperator()
	if kind == Bool {
		if op != opNone {
			return nil, p.errf(opPos, "field %q is Bool and takes no operator (%s); use it bare or with not", w, opText)
		}
		return &boolField{id: id}, nil
	}
	if op == opNone {
		if u := p.word(); u == "wildcard" || u == "strict" || u == "bitwise_and" {
			return nil, p.errf(opPos, "operator %q is not supported", u)
		}
		return nil, p.errf(opPos, "expected operator after field %q, found %s", w, p.describe())
	}
	p.skipSpace()
	switch kind {
	case String:
		return p.parseStringComparison(w, id, op, opText)
	case IP:
		return p.parseIPComparison(w, id, op, opText, opPos)
	}
	return nil, p.errf(start, "field %q has an unknown kind", w)
}

type cmpOp uint8

const (
	opNone cmpOp = iota
	opEq
	opNe
	opLt
	opLe
	opGt
	opGe
	opContains
	opMatches
	opIn
)

var opNames = [...]string{opNone: "", opEq: "eq", opNe: "ne", opLt: "lt", opLe: "le", opGt: "gt", opGe: "ge", opContains: "contains", opMatches: "matches", opIn: "in"}

// parseOperator consumes a comparison operator if one is at the current position.
func (p *parser) parseOperator() (cmpOp, string) {
	// Longer symbols first so "<=" is not read as "<".
	syms := [...]struct {
		s  string
		op cmpOp
	}{{"==", opEq}, {"!=", opNe}, {"<=", opLe}, {">=", opGe}, {"<", opLt}, {">", opGt}, {"~", opMatches}}
	for _, s := range syms {
		if strings.HasPrefix(p.src[p.pos:], s.s) {
			p.pos += len(s.s)
			return s.op, s.s
		}
	}
	w := p.word()
	for op := opEq; op <= opIn; op++ {
		if w == opNames[op] {
			p.pos += len(w)
			return op, w
		}
	}
	return opNone, ""
}

func (p *parser) parseStringComparison(field string, id int, op cmpOp, opText string) (node, error) {
	if op == opIn {
		set, err := p.parseSet(field, String)
		if err != nil {
			return nil, err
		}
		return newStrIn(id, set.strs), nil
	}
	litPos := p.pos
	lit, ok, err := p.parseString()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, p.errf(litPos, "expected a quoted string after %q (field %q is String), found %s", opText, field, p.describe())
	}
	switch op {
	case opMatches:
		re, err := regexp.Compile(lit)
		if err != nil {
			return nil, p.errf(litPos, "invalid regular expression: %v", err)
		}
		return &strMatches{id: id, re: re}, nil
	case opContains:
		return &strContains{id: id, lit: lit}, nil
	default:
		return &strCmp{id: id, op: op, lit: lit}, nil
	}
}

func (p *parser) parseIPComparison(field string, id int, op cmpOp, opText string, opPos int) (node, error) {
	switch op {
	case opContains, opMatches:
		return nil, p.errf(opPos, "operator %q needs a String field; %q is IP", opText, field)
	case opIn:
		set, err := p.parseSet(field, IP)
		if err != nil {
			return nil, err
		}
		return &ipIn{id: id, addrs: set.addrs, prefixes: set.prefixes}, nil
	}
	litPos := p.pos
	addr, prefix, isPrefix, err := p.parseIPLiteral(field)
	if err != nil {
		return nil, err
	}
	if isPrefix {
		return nil, p.errf(litPos, "%q %s needs an address; use in {%s} for a CIDR", field, opText, prefix)
	}
	return &ipCmp{id: id, op: op, addr: addr}, nil
}

type literalSet struct {
	strs     []string
	addrs    []netip.Addr
	prefixes []netip.Prefix
}

// parseSet reads "{ lit lit ... }" of the kind the field needs.
func (p *parser) parseSet(field string, kind Kind) (literalSet, error) {
	var set literalSet
	open := p.pos
	if p.eof() || p.src[p.pos] != '{' {
		return set, p.errf(p.pos, "expected \"{\" after in, found %s", p.describe())
	}
	p.pos++
	n := 0
	for {
		p.skipSpace()
		if p.eof() {
			return set, p.errf(p.pos, "expected \"}\" to close \"{\" at position %d, found end of expression", open)
		}
		if p.src[p.pos] == '}' {
			if n == 0 {
				return set, p.errf(p.pos, "empty set")
			}
			p.pos++
			return set, nil
		}
		litPos := p.pos
		switch kind {
		case String:
			s, ok, err := p.parseString()
			if err != nil {
				return set, err
			}
			if !ok {
				return set, p.errf(litPos, "expected a quoted string or \"}\" in the set for %q, found %s", field, p.describe())
			}
			set.strs = append(set.strs, s)
		case IP:
			a, pf, isPrefix, err := p.parseIPLiteral(field)
			if err != nil {
				return set, err
			}
			if isPrefix {
				set.prefixes = append(set.prefixes, pf)
			} else {
				set.addrs = append(set.addrs, a)
			}
		}
		n++
		if !p.eof() && p.src[p.pos] != ' ' && p.src[p.pos] != '\t' && p.src[p.pos] != '\n' && p.src[p.pos] != '\r' && p.src[p.pos] != '}' {
			return set, p.errf(p.pos, "expected a space or \"}\" after a set element, found %s", p.describe())
		}
	}
}

func isIPChar(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '.' || c == ':' || c == '/'
}

// parseIPLiteral reads an IPv4/IPv6 address or CIDR prefix.
func (p *parser) parseIPLiteral(field string) (netip.Addr, netip.Prefix, bool, error) {
	start := p.pos
	if !p.eof() && (p.src[p.pos] == '"' || p.src[p.pos] == 'r' && p.pos+1 < len(p.src) && (p.src[p.pos+1] == '"' || p.src[p.pos+1] == '#')) {
		return netip.Addr{}, netip.Prefix{}, false, p.errf(start, "field %q is IP; compare it with an IP address or CIDR, not a string", field)
	}
	end := p.pos
	for end < len(p.src) && isIPChar(p.src[end]) {
		end++
	}
	// An identifier that happens to start with hex letters ("abc_def") is not an address.
	if end == p.pos || end < len(p.src) && isIdentChar(p.src[end]) {
		return netip.Addr{}, netip.Prefix{}, false, p.errf(start, "expected an IP address or CIDR for field %q, found %s", field, p.describe())
	}
	lit := p.src[start:end]
	if strings.Contains(lit, "/") {
		pf, err := netip.ParsePrefix(lit)
		if err != nil {
			return netip.Addr{}, netip.Prefix{}, false, p.errf(start, "invalid CIDR %q", lit)
		}
		if pf.Addr().Is4In6() {
			bits := pf.Bits() - 96
			if bits < 0 {
				return netip.Addr{}, netip.Prefix{}, false, p.errf(start, "invalid CIDR %q: IPv4-mapped prefix shorter than /96", lit)
			}
			pf = netip.PrefixFrom(pf.Addr().Unmap(), bits)
		}
		p.pos = end
		return netip.Addr{}, pf.Masked(), true, nil
	}
	a, err := netip.ParseAddr(lit)
	if err != nil {
		return netip.Addr{}, netip.Prefix{}, false, p.errf(start, "invalid IP address %q", lit)
	}
	p.pos = end
	return a.Unmap(), netip.Prefix{}, false, nil
}

// parseString reads a quoted string ("..." with \" and \\ as the only escapes) or a raw string
// (r"..." or r#"..."# with up to 255 #, no escapes). ok is false if no string starts here.
func (p *parser) parseString() (s string, ok bool, err error) {
	if p.eof() {
		return "", false, nil
	}
	start := p.pos
	if p.src[p.pos] == 'r' {
		i := p.pos + 1
		for i < len(p.src) && p.src[i] == '#' {
			i++
		}
		hashes := i - p.pos - 1
		if i >= len(p.src) || p.src[i] != '"' {
			if hashes == 0 {
				return "", false, nil
			}
			return "", false, p.errf(start, "expected '\"' after r%s", strings.Repeat("#", hashes))
		}
		if hashes > 255 {
			return "", false, p.errf(start, "raw string has %d '#'; at most 255 are allowed", hashes)
		}
		closing := "\"" + strings.Repeat("#", hashes)
		body := i + 1
		end := strings.Index(p.src[body:], closing)
		if end < 0 {
			return "", false, p.errf(start, "unterminated raw string")
		}
		p.pos = body + end + len(closing)
		return p.src[body : body+end], true, nil
	}
	if p.src[p.pos] != '"' {
		return "", false, nil
	}
	i := p.pos + 1
	var b *strings.Builder
	from := i
	for i < len(p.src) {
		switch p.src[i] {
		case '"':
			out := p.src[from:i]
			if b != nil {
				b.WriteString(out)
				out = b.String()
			}
			p.pos = i + 1
			return out, true, nil
		case '\\':
			if i+1 >= len(p.src) {
				return "", false, p.errf(i, "unterminated escape at end of expression")
			}
			c := p.src[i+1]
			if c != '"' && c != '\\' {
				return "", false, p.errf(i, "invalid escape %q in string: only \\\" and \\\\ are allowed", p.src[i:i+2])
			}
			if b == nil {
				b = &strings.Builder{}
			}
			b.WriteString(p.src[from:i])
			b.WriteByte(c)
			i += 2
			from = i
		default:
			i++
		}
	}
	return "", false, p.errf(start, "unterminated string")
}
