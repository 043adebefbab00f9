package rules

import (
	"net/http"
	"net/netip"
	"testing"
)

// fuzzEnvs covers absent values, a verified certificate and an IPv6 source.
func fuzzEnvs() []*fakeEnv {
	v6 := verifiedEnv()
	v6.ip[FieldIPSrc] = netip.MustParseAddr("2001:db8::1")
	v6.b[FieldCertRevoked] = true
	return []*fakeEnv{{}, verifiedEnv(), v6}
}

func FuzzCompile(f *testing.F) {
	for _, s := range defaultExprs {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		`http.host eq "a\"b\\c"`, `ip.src in {10.0.0.0/8 192.0.2.1 2001:db8::/32}`,
		`http.request.uri.path matches r#"^/a"b"#`, `(a or b`, `not not !true`, `http.host in {"a" "b"}`,
		`http.request.method ge "GET" xor ip.src lt ::1`, `"\x41"`, `cf.tls_client_auth.cert_verified == true`,
	} {
		f.Add([]byte(s))
	}
	envs := fuzzEnvs()
	f.Fuzz(func(t *testing.T, data []byte) {
		src := string(data)
		e, err := Compile(src, cfSchema)
		if err != nil {
			se, ok := err.(*SyntaxError)
			if !ok {
				t.Fatalf("error is %T, want *SyntaxError", err)
			}
			if se.Pos < 0 || se.Pos > len(src) && se.Pos != MaxExpressionLen {
				t.Fatalf("position %d outside the %d-byte input", se.Pos, len(src))
			}
			if e != nil {
				t.Fatal("an error and an Expr")
			}
		} else {
			if len(src) > MaxExpressionLen {
				t.Fatalf("compiled a %d-byte expression", len(src))
			}
			for _, env := range envs {
				e.Eval(env)
			}
		}
		if v, err := CompileValue(src, cfSchema); err == nil {
			for _, env := range envs {
				v.Eval(env)
			}
		}
	})
}

func FuzzParseRuleset(f *testing.F) {
	for _, name := range []string{"default.json", "managed-transform.json", "xfcc.json"} {
		data, err := PresetJSON(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(rulesetWith(removeRule)))
	f.Add([]byte(`{"result": {"rules": []}, "success": true, "errors": [], "messages": []}`))
	f.Add([]byte(rulesetWith(`{"expression": "true", "action": "rewrite", "action_parameters": {"headers": {"Client-Cert-Chain": {"operation": "set", "expression": "cf.tls_client_auth.cert_chain_rfc9440"}}}}`)))
	envs := fuzzEnvs()
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ParseRuleset(data, cfSchema)
		if err != nil {
			if rs != nil {
				t.Fatal("an error and a Ruleset")
			}
			return
		}
		managed := map[string]bool{}
		for _, h := range rs.Headers() {
			if h != http.CanonicalHeaderKey(h) {
				t.Fatalf("header %q is not canonical", h)
			}
			managed[h] = true
		}
		for _, env := range envs {
			h := realisticHeader()
			h["Client-Cert-Chain"] = []string{"forged"}
			rs.Apply(h, env)
			if _, chain := h[HeaderClientCertChain]; chain {
				if _, leaf := h[HeaderClientCert]; !leaf {
					t.Fatal("Client-Cert-Chain left without Client-Cert")
				}
			}
			for name, vals := range h {
				if len(vals) == 0 {
					t.Fatalf("header %q set to no values", name)
				}
				for _, v := range vals {
					if v == "" && managed[name] {
						t.Fatalf("managed header %q set to an empty value", name)
					}
				}
			}
		}
	})
}
