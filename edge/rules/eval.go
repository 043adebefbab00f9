package rules

import (
	"net/netip"
	"regexp"
	"strings"
)

// node is one compiled piece of an expression. eval must not allocate.
type node interface {
	eval(Env) bool
}

type constNode bool

func (n constNode) eval(Env) bool { return bool(n) }

// boolField reads a Bool field, negated when neg (a folded not).
type boolField struct {
	id  int
	neg bool
}

func (n *boolField) eval(e Env) bool { return e.Bool(n.id) != n.neg }

type notNode struct{ x node }

func (n *notNode) eval(e Env) bool { return !n.x.eval(e) }

// andNode and orNode short-circuit.
type andNode struct{ xs []node }

func (n *andNode) eval(e Env) bool {
	for _, x := range n.xs {
		if !x.eval(e) {
			return false
		}
	}
	return true
}

type orNode struct{ xs []node }

func (n *orNode) eval(e Env) bool {
	for _, x := range n.xs {
		if x.eval(e) {
			return true
		}
	}
	return false
}

// xorNode is a left-associative chain: a ^^ b ^^ c is true when an odd number hold.
type xorNode struct{ xs []node }

func (n *xorNode) eval(e Env) bool {
	v := false
	for _, x := range n.xs {
		v = v != x.eval(e)
	}
	return v
}

// strCmp compares bytewise, case-sensitively, as Cloudflare does.
type strCmp struct {
	id  int
	op  cmpOp
	lit string
}

func (n *strCmp) eval(e Env) bool {
	v := e.String(n.id)
	switch n.op {
	case opEq:
		return v == n.lit
	case opNe:
		return v != n.lit
	case opLt:
		return v < n.lit
	case opLe:
		return v <= n.lit
	case opGt:
		return v > n.lit
	case opGe:
		return v >= n.lit
	}
	return false
}

type strContains struct {
	id  int
	lit string
}

func (n *strContains) eval(e Env) bool { return strings.Contains(e.String(n.id), n.lit) }

type strMatches struct {
	id int
	re *regexp.Regexp
}

func (n *strMatches) eval(e Env) bool { return n.re.MatchString(e.String(n.id)) }

// smallSet is the size up to which a linear scan beats a map lookup.
const smallSet = 8

type strIn struct {
	id   int
	list []string
	set  map[string]struct{}
}

func newStrIn(id int, lits []string) *strIn {
	n := &strIn{id: id}
	if len(lits) <= smallSet {
		n.list = lits
		return n
	}
	n.set = make(map[string]struct{}, len(lits))
	for _, l := range lits {
		n.set[l] = struct{}{}
	}
	return n
}

func (n *strIn) eval(e Env) bool {
	v := e.String(n.id)
	if n.set != nil {
		_, ok := n.set[v]
		return ok
	}
	for _, l := range n.list {
		if v == l {
			return true
		}
	}
	return false
}

// ipCmp compares addresses after unmapping IPv4-mapped IPv6, so ::ffff:192.0.2.1 eq 192.0.2.1.
// An invalid (absent) address satisfies only ne.
type ipCmp struct {
	id   int
	op   cmpOp
	addr netip.Addr
}

func (n *ipCmp) eval(e Env) bool {
	v := e.IP(n.id).Unmap()
	switch n.op {
	case opEq:
		return v.IsValid() && v == n.addr
	case opNe:
		return !v.IsValid() || v != n.addr
	}
	if !v.IsValid() {
		return false
	}
	c := v.Compare(n.addr)
	switch n.op {
	case opLt:
		return c < 0
	case opLe:
		return c <= 0
	case opGt:
		return c > 0
	case opGe:
		return c >= 0
	}
	return false
}

type ipIn struct {
	id       int
	addrs    []netip.Addr
	prefixes []netip.Prefix
}

func (n *ipIn) eval(e Env) bool {
	v := e.IP(n.id).Unmap()
	if !v.IsValid() {
		return false
	}
	for _, a := range n.addrs {
		if v == a {
			return true
		}
	}
	for _, p := range n.prefixes {
		if p.Contains(v) {
			return true
		}
	}
	return false
}
