package rules

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// RFC 9440 header names. A chain is only meaningful next to its leaf (RFC 9440 §2.3).
const (
	HeaderClientCert      = "Client-Cert"
	HeaderClientCertChain = "Client-Cert-Chain"
)

// Phase is the Cloudflare phase whose rulesets this package runs.
const Phase = "http_request_late_transform"

// maxRulesetBytes bounds what LoadRuleset reads; real rulesets are a few KiB.
const maxRulesetBytes = 4 << 20

// Ruleset is a compiled list of request header transform rules. It is immutable and safe for
// concurrent use.
type Ruleset struct {
	rules   []rule
	headers []string
	numSets int
}

type rule struct {
	id, ref, description string
	expr                 *Expr
	ops                  []headerOp // sorted by name
}

type headerOp struct {
	name   string // canonical
	remove bool
	static string
	value  *Value // set dynamic when non-nil
}

// LoadRuleset reads a ruleset (see ParseRuleset) from r.
func LoadRuleset(r io.Reader, s *Schema) (*Ruleset, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxRulesetBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading ruleset: %w", err)
	}
	if len(data) > maxRulesetBytes {
		return nil, fmt.Errorf("ruleset is larger than %d bytes", maxRulesetBytes)
	}
	return ParseRuleset(data, s)
}

// ParseRuleset decodes Cloudflare's ruleset JSON for request header transforms, as the
// Rulesets API returns it (bare, or inside its {"result": …} response wrapper). Unknown fields,
// operations other than remove and set, and expressions that do not compile are errors naming
// their JSON path; every problem found is reported. Rules with "enabled": false are checked
// but not run.
func ParseRuleset(data []byte, s *Schema) (*Ruleset, error) {
	top, err := parseJSON(data)
	if err != nil {
		return nil, fmt.Errorf("ruleset: %w", err)
	}
	if top.kind != jObject {
		return nil, fmt.Errorf("ruleset: expected an object, found %s", top.kind)
	}
	d := &decoder{schema: s}
	rs := &Ruleset{}
	if _, wrapped := top.get("result"); wrapped {
		d.wrapper(top, rs)
	} else {
		d.ruleset(top, "", rs)
	}
	if len(d.problems) > 0 {
		return nil, fmt.Errorf("ruleset: %w", errors.Join(d.problems...))
	}
	rs.finish()
	return rs, nil
}

// finish computes the managed header list and the set-buffer size.
func (rs *Ruleset) finish() {
	seen := map[string]bool{}
	for _, r := range rs.rules {
		for _, op := range r.ops {
			seen[op.name] = true
			if !op.remove {
				rs.numSets++
			}
		}
	}
	// The leaf and the chain are a pair: whoever manages one must have client-supplied copies of
	// both removed, or a forged chain could ride next to a genuine leaf.
	if seen[HeaderClientCert] || seen[HeaderClientCertChain] {
		seen[HeaderClientCert], seen[HeaderClientCertChain] = true, true
	}
	for h := range seen {
		rs.headers = append(rs.headers, h)
	}
	slices.Sort(rs.headers)
}

// Apply runs the enabled rules, in order, against h (the outgoing request headers). Within a
// rule, header operations run sorted by header name. "set" replaces every existing value;
// "set" with an empty value removes the header. Afterwards a Client-Cert-Chain without a
// Client-Cert is removed (RFC 9440 §2.3). The Env's strings must be valid header values.
func (rs *Ruleset) Apply(h http.Header, env Env) {
	if rs == nil || h == nil {
		return
	}
	// One backing array for every value set in this call, each header getting a capacity-1
	// window so appends by later code copy instead of overwriting a neighbour.
	var buf []string
	n := 0
	for i := range rs.rules {
		r := &rs.rules[i]
		if r.expr == nil || !r.expr.Eval(env) {
			continue
		}
		for j := range r.ops {
			op := &r.ops[j]
			if op.remove {
				delete(h, op.name)
				continue
			}
			v := op.static
			if op.value != nil {
				v = op.value.Eval(env)
			}
			if v == "" {
				delete(h, op.name)
				continue
			}
			if buf == nil {
				buf = make([]string, rs.numSets)
			}
			buf[n] = v
			h[op.name] = buf[n : n+1 : n+1]
			n++
		}
	}
	if _, chain := h[HeaderClientCertChain]; chain {
		if _, leaf := h[HeaderClientCert]; !leaf {
			delete(h, HeaderClientCertChain)
		}
	}
}

// Headers lists every header name the enabled rules manage, in canonical form and sorted, for
// removing client-supplied copies before Apply. Managing either of Client-Cert and
// Client-Cert-Chain lists both.
func (rs *Ruleset) Headers() []string {
	if rs == nil {
		return nil
	}
	return slices.Clone(rs.headers)
}

// Len returns the number of enabled rules.
func (rs *Ruleset) Len() int {
	if rs == nil {
		return 0
	}
	return len(rs.rules)
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' ||
			c == '+' || c == '-' || c == '.' || c == '^' || c == '_' || c == '`' || c == '|' || c == '~':
		default:
			return false
		}
	}
	return true
}

// validHeaderValue rejects control characters other than tab, which would let a value split
// the header block.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// References reports whether any enabled rule's expression or value mentions the named field, so
// a caller can skip computing fields nobody reads. A mention inside a string literal counts too:
// the answer may be a false yes, never a false no.
func (rs *Ruleset) References(field string) bool {
	if rs == nil {
		return false
	}
	for _, r := range rs.rules {
		if r.expr != nil && strings.Contains(r.expr.src, field) {
			return true
		}
		for _, op := range r.ops {
			if op.value != nil && strings.Contains(op.value.src, field) {
				return true
			}
		}
	}
	return false
}

// UncheckedForwarding names the rules (by ref, else description) that set a
// header from a certificate field — the certificate, its chain, DNs,
// serials, fingerprints — when neither its expression reads
// cf.tls_client_auth.cert_verified nor it sends that field along: such a
// rule forwards unverified (and possibly revoked) certificates as if they
// were good. The edge warns about them at start.
func (rs *Ruleset) UncheckedForwarding() []string {
	if rs == nil {
		return nil
	}
	var out []string
	for _, r := range rs.rules {
		if r.expr != nil && strings.Contains(r.expr.String(), TLSClientAuthPrefix+"cert_verified") {
			continue
		}
		tells := false
		for _, op := range r.ops {
			tells = tells || op.value != nil && op.value.src == TLSClientAuthPrefix+"cert_verified"
		}
		if tells {
			continue
		}
		for _, op := range r.ops {
			if op.value == nil || !strings.HasPrefix(op.value.src, TLSClientAuthPrefix+"cert_") {
				continue
			}
			switch strings.TrimPrefix(op.value.src, TLSClientAuthPrefix) {
			case "cert_presented", "cert_verified", "cert_revoked", "cert_rfc9440_too_large", "cert_chain_rfc9440_too_large":
				continue // facts about the check, not the certificate
			}
			name := r.ref
			if name == "" {
				name = r.description
			}
			out = append(out, name)
			break
		}
	}
	return out
}
