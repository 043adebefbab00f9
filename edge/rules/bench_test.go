package rules

import "testing"

func BenchmarkEvalDefault(b *testing.B) {
	exprs := make([]*Expr, len(defaultExprs))
	for i, s := range defaultExprs {
		e, err := Compile(s, cfSchema)
		if err != nil {
			b.Fatal(err)
		}
		exprs[i] = e
	}
	env := verifiedEnv()
	b.ReportAllocs()
	for b.Loop() {
		// The four default rules' conditions: two "true" removes, then the two sets.
		exprs[0].Eval(env)
		exprs[0].Eval(env)
		exprs[1].Eval(env)
		exprs[2].Eval(env)
	}
}

func BenchmarkApplyDefault(b *testing.B) {
	rs := DefaultRuleset()
	env := verifiedEnv()
	h := realisticHeader()
	b.ReportAllocs()
	for b.Loop() {
		// Steady state: the same header map each time, as the proxy's outgoing copy would be
		// after the first request; both headers are removed and set again.
		rs.Apply(h, env)
	}
}

func BenchmarkApplyDefaultNoCert(b *testing.B) {
	rs := DefaultRuleset()
	env := &fakeEnv{}
	h := realisticHeader()
	b.ReportAllocs()
	for b.Loop() {
		rs.Apply(h, env)
	}
}

func BenchmarkApplyManagedTransform(b *testing.B) {
	rs := ManagedTransformRuleset()
	env := verifiedEnv()
	h := realisticHeader()
	b.ReportAllocs()
	for b.Loop() {
		rs.Apply(h, env)
	}
}

func BenchmarkCompileDefault(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range defaultExprs {
			if _, err := Compile(s, cfSchema); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkParseManagedTransform(b *testing.B) {
	data, err := PresetJSON("managed-transform.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRuleset(data, cfSchema); err != nil {
			b.Fatal(err)
		}
	}
}
