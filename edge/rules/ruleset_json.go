package rules

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// decoder walks the JSON tree, compiling rules and collecting every problem with its path.
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

// str reads a string; null counts as "".
func (d *decoder) str(v jvalue, path string) string {
	if v.kind != jString && v.kind != jNull {
		d.addf(path, "expected a string, found %s", v.kind)
	}
	return v.s
}

func (d *decoder) object(v jvalue, path string) bool {
	if v.kind != jObject {
		d.addf(path, "expected an object, found %s", v.kind)
		return false
	}
	return true
}

func (d *decoder) wrapper(top jvalue, rs *Ruleset) {
	for _, m := range top.obj {
		p := joinKey("", m.key)
		switch m.key {
		case "result":
			if d.object(m.val, p) {
				d.ruleset(m.val, p, rs)
			}
		case "success":
			if m.val.kind != jBool {
				d.addf(p, "expected a boolean, found %s", m.val.kind)
			} else if !m.val.b {
				d.addf(p, "the API call failed (success is false)")
			}
		case "errors", "messages":
			if m.val.kind != jArray {
				d.addf(p, "expected an array, found %s", m.val.kind)
			}
		default:
			d.addf(p, "unknown field")
		}
	}
}

func (d *decoder) ruleset(top jvalue, path string, rs *Ruleset) {
	for _, m := range top.obj {
		p := joinKey(path, m.key)
		switch m.key {
		case "rules":
		case "phase":
			if phase := d.str(m.val, p); m.val.kind == jString && phase != Phase {
				d.addf(p, "phase %q is not %q (request header transforms)", phase, Phase)
			}
		case "id", "name", "description", "kind", "version", "last_updated":
			d.str(m.val, p)
		default:
			d.addf(p, "unknown field")
		}
	}
	p := joinKey(path, "rules")
	list, ok := top.get("rules")
	if !ok {
		d.addf(p, "missing")
		return
	}
	if list.kind != jArray {
		d.addf(p, "expected an array, found %s", list.kind)
		return
	}
	for i, raw := range list.arr {
		r, enabled, ok := d.rule(raw, p+"["+strconv.Itoa(i)+"]")
		if ok && enabled {
			rs.rules = append(rs.rules, r)
		}
	}
}

func (d *decoder) rule(v jvalue, path string) (r rule, enabled, ok bool) {
	before := len(d.problems)
	if !d.object(v, path) {
		return r, false, false
	}
	enabled = true
	for _, m := range v.obj {
		p := joinKey(path, m.key)
		switch m.key {
		case "expression", "action_parameters":
		case "action":
			if action := d.str(m.val, p); m.val.kind == jString && action != "rewrite" {
				d.addf(p, "action %q is not supported; request header transforms use \"rewrite\"", action)
			}
		case "enabled":
			switch m.val.kind {
			case jBool:
				enabled = m.val.b
			case jNull:
			default:
				d.addf(p, "expected a boolean, found %s", m.val.kind)
			}
		case "id":
			r.id = d.str(m.val, p)
		case "ref":
			r.ref = d.str(m.val, p)
		case "description":
			r.description = d.str(m.val, p)
		case "version", "last_updated":
			d.str(m.val, p)
		default:
			d.addf(p, "unknown field")
		}
	}
	if _, has := v.get("action"); !has {
		d.addf(joinKey(path, "action"), "missing (want \"rewrite\")")
	}
	ep := joinKey(path, "expression")
	if ev, has := v.get("expression"); !has {
		d.addf(ep, "missing")
	} else if ev.kind != jString {
		d.addf(ep, "expected a string, found %s", ev.kind)
	} else if e, err := Compile(ev.s, d.schema); err != nil {
		d.add(ep, err)
	} else {
		r.expr = e
	}
	pp := joinKey(path, "action_parameters")
	if params, has := v.get("action_parameters"); !has {
		d.addf(pp, "missing")
	} else {
		r.ops = d.actionParameters(params, pp)
	}
	return r, enabled, len(d.problems) == before
}

func (d *decoder) actionParameters(v jvalue, path string) []headerOp {
	if !d.object(v, path) {
		return nil
	}
	for _, m := range v.obj {
		if m.key != "headers" {
			d.addf(joinKey(path, m.key), "unknown field (only request header operations are supported)")
		}
	}
	hp := joinKey(path, "headers")
	hv, ok := v.get("headers")
	if !ok {
		d.addf(hp, "missing")
		return nil
	}
	return d.headers(hv, hp)
}

func (d *decoder) headers(v jvalue, path string) []headerOp {
	if !d.object(v, path) {
		return nil
	}
	if len(v.obj) == 0 {
		d.addf(path, "no header operations")
		return nil
	}
	var ops []headerOp
	seen := map[string]string{}
	for _, m := range v.obj {
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
	slices.SortFunc(ops, func(a, b headerOp) int { return strings.Compare(a.name, b.name) })
	return ops
}

func (d *decoder) headerOp(v jvalue, path, name string) (headerOp, bool) {
	op := headerOp{name: name}
	before := len(d.problems)
	if !d.object(v, path) {
		return op, false
	}
	for _, m := range v.obj {
		switch m.key {
		case "operation", "value", "expression":
			if m.val.kind != jString {
				d.addf(joinKey(path, m.key), "expected a string, found %s", m.val.kind)
			}
		default:
			d.addf(joinKey(path, m.key), "unknown field")
		}
	}
	operation, hasOperation := v.get("operation")
	value, hasValue := v.get("value")
	expr, hasExpr := v.get("expression")
	switch {
	case !hasOperation:
		d.addf(joinKey(path, "operation"), "missing (want \"set\" or \"remove\")")
	case operation.kind != jString || hasValue && value.kind != jString || hasExpr && expr.kind != jString:
		// Reported above.
	case operation.s == "remove":
		op.remove = true
		if hasValue || hasExpr {
			d.addf(path, "remove takes no value or expression")
		}
	case operation.s == "set":
		switch {
		case hasValue && hasExpr:
			d.addf(path, "set takes either value or expression, not both")
		case hasValue:
			if !validHeaderValue(value.s) {
				d.addf(joinKey(path, "value"), "invalid header value (control characters)")
			}
			op.static = value.s
		case hasExpr:
			val, err := CompileValue(expr.s, d.schema)
			if err != nil {
				d.add(joinKey(path, "expression"), err)
			}
			op.value = val
		default:
			d.addf(path, "set needs a value or an expression")
		}
	default:
		d.addf(joinKey(path, "operation"), "unknown operation %q", operation.s)
	}
	return op, len(d.problems) == before
}
