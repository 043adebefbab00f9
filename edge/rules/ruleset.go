package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
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
	d := &decoder{schema: s}
	rs := &Ruleset{}
	top, err := d.object(data, "")
	if err != nil {
		return nil, fmt.Errorf("ruleset: %w", err)
	}
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

// decoder walks the JSON keeping the path of every value, so each problem names where it is.
type decoder struct {
	schema   *Schema
	problems []error
}

func (d *decoder) addf(path, format string, args ...any) {
	d.problems = append(d.problems, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

func (d *decoder) add(path string, err error) {
	d.problems = append(d.problems, fmt.Errorf("%s: %w", path, err))
}

type member struct {
	key string
	val json.RawMessage
}

// object is a JSON object's members in document order.
type object []member

func (o object) get(key string) (json.RawMessage, bool) {
	for _, m := range o {
		if m.key == key {
			return m.val, true
		}
	}
	return nil, false
}

// object decodes data as a JSON object, rejecting duplicate keys and trailing data.
func (d *decoder) object(data []byte, path string) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		return nil, fmt.Errorf("expected an object, found %s", jsonKind(tok))
	}
	var o object
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("invalid JSON: object key is not a string")
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, fmt.Errorf("invalid JSON in %s: %w", joinKey(path, key), err)
		}
		if _, dup := o.get(key); dup {
			return nil, fmt.Errorf("duplicate key %q", key)
		}
		o = append(o, member{key, val})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("invalid JSON: data after the object")
	}
	return o, nil
}

func jsonKind(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return "an array"
		}
		return string(t)
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "something else"
}

// joinKey appends an object key to a path: identifiers as .key, others as ["key"].
func joinKey(path, key string) string {
	plain := key != ""
	for i := 0; i < len(key); i++ {
		if c := key[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= '0' && c <= '9' && i > 0) {
			plain = false
			break
		}
	}
	if !plain {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) str(raw json.RawMessage, path string) (string, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		d.addf(path, "expected a string")
		return "", false
	}
	return s, true
}

func (d *decoder) wrapper(top object, rs *Ruleset) {
	for _, m := range top {
		p := joinKey("", m.key)
		switch m.key {
		case "result":
			o, err := d.object(m.val, p)
			if err != nil {
				d.add(p, err)
				continue
			}
			d.ruleset(o, p, rs)
		case "success":
			var ok bool
			if err := json.Unmarshal(m.val, &ok); err != nil {
				d.addf(p, "expected a boolean")
			} else if !ok {
				d.addf(p, "the API call failed (success is false)")
			}
		case "errors", "messages":
			var list []json.RawMessage
			if err := json.Unmarshal(m.val, &list); err != nil {
				d.addf(p, "expected an array")
			}
		default:
			d.addf(p, "unknown field")
		}
	}
}

func (d *decoder) ruleset(top object, path string, rs *Ruleset) {
	var rulesRaw json.RawMessage
	for _, m := range top {
		p := joinKey(path, m.key)
		switch m.key {
		case "rules":
			rulesRaw = m.val
		case "phase":
			if phase, ok := d.str(m.val, p); ok && phase != Phase {
				d.addf(p, "phase %q is not %q (request header transforms)", phase, Phase)
			}
		case "id", "name", "description", "kind", "version", "last_updated":
			d.str(m.val, p)
		default:
			d.addf(p, "unknown field")
		}
	}
	p := joinKey(path, "rules")
	if rulesRaw == nil {
		d.addf(p, "missing")
		return
	}
	var list []json.RawMessage
	if err := json.Unmarshal(rulesRaw, &list); err != nil || list == nil {
		d.addf(p, "expected an array")
		return
	}
	for i, raw := range list {
		rp := fmt.Sprintf("%s[%d]", p, i)
		r, enabled, ok := d.rule(raw, rp)
		if ok && enabled {
			rs.rules = append(rs.rules, r)
		}
	}
}

func (d *decoder) rule(raw json.RawMessage, path string) (r rule, enabled, ok bool) {
	before := len(d.problems)
	o, err := d.object(raw, path)
	if err != nil {
		d.add(path, err)
		return r, false, false
	}
	enabled = true
	var expr, action string
	var params json.RawMessage
	for _, m := range o {
		p := joinKey(path, m.key)
		switch m.key {
		case "expression":
			expr, _ = d.str(m.val, p)
		case "action":
			action, _ = d.str(m.val, p)
			if action != "rewrite" {
				d.addf(p, "action %q is not supported; request header transforms use \"rewrite\"", action)
			}
		case "action_parameters":
			params = m.val
		case "enabled":
			if err := json.Unmarshal(m.val, &enabled); err != nil {
				d.addf(p, "expected a boolean")
			}
		case "id":
			r.id, _ = d.str(m.val, p)
		case "ref":
			r.ref, _ = d.str(m.val, p)
		case "description":
			r.description, _ = d.str(m.val, p)
		case "version", "last_updated":
			d.str(m.val, p)
		default:
			d.addf(p, "unknown field")
		}
	}
	if _, has := o.get("action"); !has {
		d.addf(joinKey(path, "action"), "missing (want \"rewrite\")")
	}
	ep := joinKey(path, "expression")
	if _, has := o.get("expression"); !has {
		d.addf(ep, "missing")
	} else if e, err := Compile(expr, d.schema); err != nil {
		d.add(ep, err)
	} else {
		r.expr = e
	}
	pp := joinKey(path, "action_parameters")
	if params == nil {
		d.addf(pp, "missing")
	} else {
		r.ops = d.actionParameters(params, pp)
	}
	return r, enabled, len(d.problems) == before
}

func (d *decoder) actionParameters(raw json.RawMessage, path string) []headerOp {
	o, err := d.object(raw, path)
	if err != nil {
		d.add(path, err)
		return nil
	}
	var ops []headerOp
	hp := joinKey(path, "headers")
	found := false
	for _, m := range o {
		switch m.key {
		case "headers":
			found = true
			ops = d.headers(m.val, hp)
		default:
			d.addf(joinKey(path, m.key), "unknown field (only request header operations are supported)")
		}
	}
	if !found {
		d.addf(hp, "missing")
	}
	return ops
}

func (d *decoder) headers(raw json.RawMessage, path string) []headerOp {
	o, err := d.object(raw, path)
	if err != nil {
		d.add(path, err)
		return nil
	}
	if len(o) == 0 {
		d.addf(path, "no header operations")
		return nil
	}
	var ops []headerOp
	seen := map[string]string{}
	for _, m := range o {
		p := path + "[" + strconv.Quote(m.key) + "]"
		if !validHeaderName(m.key) {
			d.addf(p, "invalid header name %q", m.key)
			continue
		}
		name := http.CanonicalHeaderKey(m.key)
		if other, dup := seen[name]; dup {
			d.addf(p, "same header as %q", other)
			continue
		}
		seen[name] = m.key
		if op, ok := d.headerOp(m.val, p, name); ok {
			ops = append(ops, op)
		}
	}
	slices.SortFunc(ops, func(a, b headerOp) int {
		if a.name < b.name {
			return -1
		}
		if a.name > b.name {
			return 1
		}
		return 0
	})
	return ops
}

func (d *decoder) headerOp(raw json.RawMessage, path, name string) (headerOp, bool) {
	op := headerOp{name: name}
	before := len(d.problems)
	o, err := d.object(raw, path)
	if err != nil {
		d.add(path, err)
		return op, false
	}
	var operation, value, expr string
	var hasOperation, hasValue, hasExpr bool
	for _, m := range o {
		p := joinKey(path, m.key)
		switch m.key {
		case "operation":
			hasOperation = true
			operation, _ = d.str(m.val, p)
		case "value":
			hasValue = true
			value, _ = d.str(m.val, p)
		case "expression":
			hasExpr = true
			expr, _ = d.str(m.val, p)
		default:
			d.addf(p, "unknown field")
		}
	}
	opPath := joinKey(path, "operation")
	switch {
	case !hasOperation:
		d.addf(opPath, "missing (want \"set\" or \"remove\")")
	case operation == "remove":
		op.remove = true
		if hasValue || hasExpr {
			d.addf(path, "remove takes no value or expression")
		}
	case operation == "set":
		switch {
		case hasValue && hasExpr:
			d.addf(path, "set takes either value or expression, not both")
		case hasValue:
			if !validHeaderValue(value) {
				d.addf(joinKey(path, "value"), "invalid header value (control characters)")
			}
			op.static = value
		case hasExpr:
			v, err := CompileValue(expr, d.schema)
			if err != nil {
				d.add(joinKey(path, "expression"), err)
			}
			op.value = v
		default:
			d.addf(path, "set needs a value or an expression")
		}
	default:
		d.addf(opPath, "unknown operation %q", operation)
	}
	return op, len(d.problems) == before
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
