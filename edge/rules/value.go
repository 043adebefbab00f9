package rules

// Value is a compiled dynamic header value: the "expression" of a set header operation. It is
// immutable and safe for concurrent use.
type Value struct {
	src  string
	kind Kind // 0 for a literal
	id   int
	lit  string
}

// CompileValue compiles a dynamic header value expression: a field reference or a quoted
// string literal. A String field gives its value, a Bool field "true" or "false", an IP field
// the address in its usual text form ("" when absent). Functions are not supported.
func CompileValue(expr string, s *Schema) (*Value, error) {
	p, err := newParser(expr, s)
	if err != nil {
		return nil, err
	}
	start := p.pos
	v := &Value{src: expr}
	lit, ok, err := p.parseString()
	switch {
	case err != nil:
		return nil, err
	case ok:
		v.lit = lit
	default:
		w := p.word()
		if w == "" {
			return nil, p.errf(p.pos, "expected a field or a quoted string, found %s", p.describe())
		}
		p.pos += len(w)
		if !p.eof() && p.src[p.pos] == '(' {
			return nil, p.errf(start, "unknown function %q: functions are not supported", w)
		}
		id, kind, found := s.Lookup(w)
		if !found {
			return nil, p.errf(start, "unknown field %q", w)
		}
		if kind != String && kind != Bool && kind != IP {
			return nil, p.errf(start, "field %q has an unknown kind", w)
		}
		v.kind, v.id = kind, id
	}
	p.skipSpace()
	if !p.eof() {
		return nil, p.errf(p.pos, "expected end of value expression, found %s", p.describe())
	}
	return v, nil
}

// Eval returns the value for the fields in env. It allocates only for an IP field.
func (v *Value) Eval(env Env) string {
	if v == nil {
		return ""
	}
	switch v.kind {
	case String:
		return env.String(v.id)
	case Bool:
		if env.Bool(v.id) {
			return "true"
		}
		return "false"
	case IP:
		a := env.IP(v.id)
		if !a.IsValid() {
			return ""
		}
		return a.Unmap().String()
	}
	return v.lit
}

// String returns the value expression's source text.
func (v *Value) String() string {
	if v == nil {
		return ""
	}
	return v.src
}
