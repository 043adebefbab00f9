package rules

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustParse(t *testing.T, js string) *Ruleset {
	t.Helper()
	rs, err := ParseRuleset([]byte(js), cfSchema)
	require.NoError(t, err)
	return rs
}

func TestLoadCloudflareAPIResponse(t *testing.T) {
	f, err := os.Open("testdata/cloudflare-ruleset.json")
	require.NoError(t, err)
	defer f.Close()
	rs, err := LoadRuleset(f, cfSchema)
	require.NoError(t, err)
	assert.Equal(t, 5, rs.Len(), "the disabled rule is skipped")
	assert.Equal(t, []string{"Client-Cert", "Client-Cert-Chain", "X-Client-Cert-Verified", "X-Internal-Network"}, rs.Headers())

	env := verifiedEnv()
	env.s[FieldHTTPRequestURIPath] = "/debug/x"
	h := http.Header{
		"Client-Cert":       {":Zm9yZ2Vk:"},
		"Client-Cert-Chain": {":Zm9yZ2Vk:", ":Zm9yZ2Vk:"},
		"Accept":            {"*/*"},
	}
	rs.Apply(h, env)
	assert.Equal(t, http.Header{
		"Client-Cert":            {env.s[FieldCertRFC9440]},
		"Client-Cert-Chain":      {env.s[FieldCertChainRFC9440]},
		"X-Client-Cert-Verified": {"1"},
		"X-Internal-Network":     {"yes"},
		"Accept":                 {"*/*"},
	}, h)

	// The same ruleset without the API's response wrapper loads the same.
	raw, err := os.ReadFile("testdata/cloudflare-ruleset.json")
	require.NoError(t, err)
	var wrapper struct{ Result json.RawMessage }
	require.NoError(t, json.Unmarshal(raw, &wrapper))
	bare, err := ParseRuleset(wrapper.Result, cfSchema)
	require.NoError(t, err)
	assert.Equal(t, rs.Headers(), bare.Headers())
	h2 := http.Header{"Client-Cert": {"forged"}}
	bare.Apply(h2, env)
	assert.Equal(t, env.s[FieldCertRFC9440], h2.Get("Client-Cert"))
}

// rulesetWith wraps one rule's JSON in a ruleset.
func rulesetWith(rules ...string) string {
	return `{"rules": [` + strings.Join(rules, ",") + `]}`
}

const removeRule = `{"expression": "true", "action": "rewrite", "action_parameters": {"headers": {"Client-Cert": {"operation": "remove"}}}}`

func TestParseRulesetErrors(t *testing.T) {
	cases := []struct {
		name string
		js   string
		want []string // every one must appear in the error
	}{
		{"unknown top-level field", `{"rules": [], "colour": "blue"}`, []string{"ruleset: colour: unknown field"}},
		{"unknown operation add", rulesetWith(removeRule, removeRule,
			`{"expression": "true", "action": "rewrite", "action_parameters": {"headers": {"Client-Cert": {"operation": "add", "value": "x"}}}}`),
			[]string{`rules[2].action_parameters.headers["Client-Cert"].operation: unknown operation "add"`}},
		{"unknown rule field", rulesetWith(`{"expression": "true", "action": "rewrite", "action_parameters": {"headers": {"A": {"operation": "remove"}}}, "position": {"index": 1}}`),
			[]string{"rules[0].position: unknown field"}},
		{"unknown header op field", rulesetWith(`{"expression": "true", "action": "rewrite", "action_parameters": {"headers": {"A": {"operation": "set", "value": "x", "Value": "y"}}}}`),
			[]string{`rules[0].action_parameters.headers["A"].Value: unknown field`}},
		{"field names are case-sensitive", rulesetWith(`{"Expression": "true", "action": "rewrite", "action_parameters": {"headers": {"A": {"operation": "remove"}}}}`),
			[]string{"rules[0].Expression: unknown field", "rules[0].expression: missing"}},
		{"uri rewrite not supported", rulesetWith(`{"expression": "true", "action": "rewrite", "action_parameters": {"uri": {"path": {"value": "/"}}}}`),
			[]string{"rules[0].action_parameters.uri: unknown field", "rules[0].action_parameters.headers: missing"}},
		{"action must be rewrite", rulesetWith(`{"expression": "true", "action": "block", "action_parameters": {"headers": {"A": {"operation": "remove"}}}}`),
			[]string{`rules[0].action: action "block" is not supported`}},
		{"action missing", rulesetWith(`{"expression": "true", "action_parameters": {"headers": {"A": {"operation": "remove"}}}}`),
			[]string{`rules[0].action: missing`}},
		{"action_parameters missing", rulesetWith(`{"expression": "true", "action": "rewrite"}`),
			[]string{`rules[0].action_parameters: missing`}},
		{"operation missing", rulesetWith(`{"expression": "true", "action": "rewrite", "action_parameters": {"headers": {"A": {"value": "x"}}}}`),
			[]string{`rules[0].action_parameters.headers["A"].operation: missing`}},
		{"remove with value", rulesetWith(`{"expression": "true", "action": "rewrite", "action_parameters": {"headers": {"A": {"operation": "remove", "value": "x"}}}}`),
			[]string{`headers["A"]: remove takes no value or expression`}},
		{"set with both", rulesetWith(`{"expression": "true", "action": "rewrite", "action_parameters": {"headers": {"A": {"operation": "set", "value": "x", "expression": "http.host"}}}}`),
			[]string{`headers["A"]: set takes either value or expression, not both`}},
		{"set with neither", rulesetWith(`{"expression": "true", "action": "rewrite", "action_parameters": {"headers": {"A": {"operation": "set"}}}}`),
			[]string{`headers["A"]: set needs a value or an expression`}},
		{"invalid header name", rulesetWith(`{"expression": "true", "action": "rewrite", "action_parameters": {"headers": {"Client Cert": {"operation": "remove"}}}}`),
			[]string{`headers["Client Cert"]: invalid header name "Client Cert"`}},
		{"empty header name", rulesetWith(`{"expression": "true", "action": "rewrite", "action_parameters": {"headers": {"": {"operation": "remove"}}}}`),
			[]string{`headers[""]: invalid header name ""`}},
		{"same header twice in one rule", rulesetWith(`{"expression": "true", "action": "rewrite", "action_parameters": {"headers": {"Client-Cert": {"operation": "remove"}, "client-cert": {"operation": "set", "value": "x"}}}}`),
			[]string{`headers["client-cert"]: same header as "Client-Cert"`}},
		{"no header operations", rulesetWith(`{"expression": "true", "action": "rewrite", "action_parameters": {"headers": {}}}`),
			[]string{`rules[0].action_parameters.headers: no header operations`}},
		{"static value with CRLF", rulesetWith(`{"expression": "true", "action": "rewrite", "action_parameters": {"headers": {"A": {"operation": "set", "value": "x\r\nEvil: 1"}}}}`),
			[]string{`headers["A"].value: invalid header value`}},
		{"expression does not compile", rulesetWith(`{"expression": "http.host", "action": "rewrite", "action_parameters": {"headers": {"A": {"operation": "remove"}}}}`),
			[]string{`rules[0].expression: position 9: expected operator after field "http.host"`}},
		{"expression empty", rulesetWith(`{"expression": "", "action": "rewrite", "action_parameters": {"headers": {"A": {"operation": "remove"}}}}`),
			[]string{`rules[0].expression: position 0: empty expression`}},
		{"expression missing", rulesetWith(`{"action": "rewrite", "action_parameters": {"headers": {"A": {"operation": "remove"}}}}`),
			[]string{`rules[0].expression: missing`}},
		{"value expression unknown field", rulesetWith(`{"expression": "true", "action": "rewrite", "action_parameters": {"headers": {"A": {"operation": "set", "expression": "cf.tls_client_auth.cert_color"}}}}`),
			[]string{`headers["A"].expression: position 0: unknown field "cf.tls_client_auth.cert_color"`}},
		{"value expression function", rulesetWith(`{"expression": "true", "action": "rewrite", "action_parameters": {"headers": {"A": {"operation": "set", "expression": "lower(http.host)"}}}}`),
			[]string{`headers["A"].expression: position 0: unknown function "lower"`}},
		{"wrong types", rulesetWith(`{"expression": true, "action": "rewrite", "enabled": "yes", "action_parameters": {"headers": {"A": {"operation": "remove"}}}}`),
			[]string{`rules[0].expression: expected a string`, `rules[0].enabled: expected a boolean`}},
		{"wrong phase", `{"phase": "http_response_headers_transform", "rules": []}`,
			[]string{`phase: phase "http_response_headers_transform" is not "http_request_late_transform"`}},
		{"null header value", rulesetWith(`{"expression": "true", "action": "rewrite", "action_parameters": {"headers": {"A": {"operation": "set", "value": null}}}}`),
			[]string{`headers["A"].value: expected a string, found null`}},
		{"number operation", rulesetWith(`{"expression": "true", "action": "rewrite", "action_parameters": {"headers": {"A": {"operation": 1}}}}`),
			[]string{`headers["A"].operation: expected a string, found a number`}},
		{"too deep", `{"rules": [], "description": ` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
			[]string{"nested more than 32 levels deep"}},
		{"rules missing", `{"name": "x"}`, []string{"rules: missing"}},
		{"rules not an array", `{"rules": {}}`, []string{"rules: expected an array"}},
		{"rules null", `{"rules": null}`, []string{"rules: expected an array"}},
		{"rule not an object", rulesetWith(`"true"`), []string{"rules[0]: expected an object, found a string"}},
		{"not an object", `[]`, []string{"ruleset: expected an object, found an array"}},
		{"invalid JSON", `{"rules": [`, []string{"invalid JSON"}},
		{"empty input", ``, []string{"invalid JSON"}},
		{"trailing data", `{"rules": []} {}`, []string{"data after the top-level value"}},
		{"duplicate key", `{"rules": [], "rules": []}`, []string{`duplicate key "rules"`}},
		{"duplicate key in a rule", rulesetWith(`{"expression": "true", "expression": "false", "action": "rewrite", "action_parameters": {"headers": {"A": {"operation": "remove"}}}}`),
			[]string{`rules[0]: duplicate key "expression"`}},
		{"API call failed", `{"result": {"rules": []}, "success": false, "errors": [{"code": 10000, "message": "Authentication error"}], "messages": []}`,
			[]string{"success: the API call failed"}},
		{"unknown wrapper field", `{"result": {"rules": []}, "success": true, "result_info": {}}`,
			[]string{"result_info: unknown field"}},
		{"paths inside the wrapper", `{"result": {"rules": [{"expression": "true", "action": "rewrite", "action_parameters": {"headers": {"A": {"operation": "add"}}}}]}}`,
			[]string{`result.rules[0].action_parameters.headers["A"].operation: unknown operation "add"`}},
		{"every problem is reported", rulesetWith(
			`{"expression": "nope", "action": "rewrite", "action_parameters": {"headers": {"A": {"operation": "remove"}}}}`,
			`{"expression": "true", "action": "skip", "action_parameters": {"headers": {"B": {"operation": "remove"}}}}`),
			[]string{`rules[0].expression: position 0: unknown field "nope"`, `rules[1].action: action "skip"`}},
		{"a disabled rule is still checked", rulesetWith(`{"expression": "true", "enabled": false, "action": "rewrite", "action_parameters": {"headers": {"A": {"operation": "add"}}}}`),
			[]string{`rules[0].action_parameters.headers["A"].operation: unknown operation "add"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := ParseRuleset([]byte(tc.js), cfSchema)
			require.Error(t, err)
			assert.Nil(t, rs)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestRulesetErrorKeepsSyntaxError(t *testing.T) {
	_, err := ParseRuleset([]byte(rulesetWith(`{"expression": "true and", "action": "rewrite", "action_parameters": {"headers": {"A": {"operation": "remove"}}}}`)), cfSchema)
	var se *SyntaxError
	require.True(t, errors.As(err, &se))
	assert.Equal(t, 8, se.Pos)
}

func TestLoadRulesetTooLarge(t *testing.T) {
	big := strings.NewReader(`{"rules": [], "description": "` + strings.Repeat("x", maxRulesetBytes) + `"}`)
	_, err := LoadRuleset(big, cfSchema)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "larger than")
}

func TestAcceptsCloudflareMetadata(t *testing.T) {
	rs := mustParse(t, `{"id": "x", "name": "n", "description": "d", "kind": "zone", "phase": "http_request_late_transform",
		"version": "3", "last_updated": "2024-01-01T00:00:00Z", "rules": [
		{"id": "r", "ref": "r", "version": "1", "last_updated": "2024-01-01T00:00:00Z", "description": "d", "enabled": true,
		 "expression": "true", "action": "rewrite", "action_parameters": {"headers": {"X-A": {"operation": "set", "value": "1"}}}}]}`)
	assert.Equal(t, 1, rs.Len())
	rs = mustParse(t, `{"rules": []}`)
	assert.Equal(t, 0, rs.Len())
	assert.Empty(t, rs.Headers())
}

func TestApplySemantics(t *testing.T) {
	rule := func(expr, headers string) string {
		b, _ := json.Marshal(expr)
		return `{"expression": ` + string(b) + `, "action": "rewrite", "action_parameters": {"headers": {` + headers + `}}}`
	}
	cases := []struct {
		name  string
		rules []string
		in    http.Header
		want  http.Header
	}{
		{"remove drops every value",
			[]string{rule("true", `"X-A": {"operation": "remove"}`)},
			http.Header{"X-A": {"1", "2"}, "X-B": {"b"}},
			http.Header{"X-B": {"b"}}},
		{"remove of an absent header is a no-op",
			[]string{rule("true", `"X-A": {"operation": "remove"}`)},
			http.Header{"X-B": {"b"}},
			http.Header{"X-B": {"b"}}},
		{"set static replaces every value",
			[]string{rule("true", `"X-A": {"operation": "set", "value": "new"}`)},
			http.Header{"X-A": {"1", "2"}},
			http.Header{"X-A": {"new"}}},
		{"set static adds a missing header, canonical name",
			[]string{rule("true", `"x-a": {"operation": "set", "value": "new"}`)},
			http.Header{},
			http.Header{"X-A": {"new"}}},
		{"set dynamic from a String field",
			[]string{rule("true", `"X-Host": {"operation": "set", "expression": "http.host"}`)},
			http.Header{"X-Host": {"forged"}},
			http.Header{"X-Host": {"app.example.com"}}},
		{"set dynamic from a Bool field",
			[]string{rule("true", `"X-V": {"operation": "set", "expression": "cf.tls_client_auth.cert_verified"}, "X-R": {"operation": "set", "expression": "cf.tls_client_auth.cert_revoked"}`)},
			http.Header{},
			http.Header{"X-V": {"true"}, "X-R": {"false"}}},
		{"set dynamic from the IP field",
			[]string{rule("true", `"X-Real-Ip": {"operation": "set", "expression": "ip.src"}`)},
			http.Header{},
			http.Header{"X-Real-Ip": {"192.0.2.10"}}},
		{"set dynamic from a string literal",
			[]string{rule("true", `"X-A": {"operation": "set", "expression": "\"lit \\\"q\\\"\""}`)},
			http.Header{},
			http.Header{"X-A": {`lit "q"`}}},
		{"set dynamic with an empty value removes",
			[]string{rule("true", `"X-Serial": {"operation": "set", "expression": "cf.tls_client_auth.cert_issuer_serial"}`)},
			http.Header{"X-Serial": {"forged"}},
			http.Header{}},
		{"set static with an empty value removes",
			[]string{rule("true", `"X-A": {"operation": "set", "value": ""}`)},
			http.Header{"X-A": {"forged"}},
			http.Header{}},
		{"false condition does nothing",
			[]string{rule("false", `"X-A": {"operation": "remove"}`)},
			http.Header{"X-A": {"1"}},
			http.Header{"X-A": {"1"}}},
		{"later rule wins: set then set",
			[]string{rule("true", `"X-A": {"operation": "set", "value": "first"}`), rule("true", `"X-A": {"operation": "set", "value": "second"}`)},
			http.Header{},
			http.Header{"X-A": {"second"}}},
		{"later rule wins: set then remove",
			[]string{rule("true", `"X-A": {"operation": "set", "value": "first"}`), rule("true", `"X-A": {"operation": "remove"}`)},
			http.Header{},
			http.Header{}},
		{"later rule wins: remove then set",
			[]string{rule("true", `"X-A": {"operation": "remove"}`), rule("true", `"X-A": {"operation": "set", "value": "v"}`)},
			http.Header{"X-A": {"old"}},
			http.Header{"X-A": {"v"}}},
		{"conditions read fields, not headers",
			[]string{rule(`http.host eq "app.example.com" and ip.src in {192.0.2.0/24}`, `"X-A": {"operation": "set", "value": "internal"}`),
				rule(`http.host eq "other"`, `"X-B": {"operation": "set", "value": "never"}`)},
			http.Header{"Host": {"other"}},
			http.Header{"Host": {"other"}, "X-A": {"internal"}}},
		{"one rule, several headers",
			[]string{rule("true", `"X-B": {"operation": "set", "value": "b"}, "X-A": {"operation": "remove"}, "X-C": {"operation": "set", "expression": "http.request.method"}`)},
			http.Header{"X-A": {"a"}},
			http.Header{"X-B": {"b"}, "X-C": {"GET"}}},
		{"a chain set without the leaf is removed",
			[]string{rule("true", `"Client-Cert-Chain": {"operation": "set", "expression": "cf.tls_client_auth.cert_chain_rfc9440"}`)},
			http.Header{},
			http.Header{}},
		{"a chain with the leaf stays",
			[]string{rule("true", `"Client-Cert-Chain": {"operation": "set", "expression": "cf.tls_client_auth.cert_chain_rfc9440"}, "Client-Cert": {"operation": "set", "expression": "cf.tls_client_auth.cert_rfc9440"}`)},
			http.Header{},
			http.Header{"Client-Cert": {verifiedEnv().s[FieldCertRFC9440]}, "Client-Cert-Chain": {verifiedEnv().s[FieldCertChainRFC9440]}}},
		{"a chain left over after the leaf is removed goes too",
			[]string{rule("true", `"Client-Cert": {"operation": "remove"}`)},
			http.Header{"Client-Cert": {":AA==:"}, "Client-Cert-Chain": {":AA==:"}},
			http.Header{}},
		{"a disabled rule does not run",
			[]string{`{"expression": "true", "enabled": false, "action": "rewrite", "action_parameters": {"headers": {"X-A": {"operation": "remove"}}}}`},
			http.Header{"X-A": {"1"}},
			http.Header{"X-A": {"1"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := mustParse(t, rulesetWith(tc.rules...))
			h := tc.in.Clone()
			rs.Apply(h, verifiedEnv())
			assert.Equal(t, tc.want, h)
		})
	}
}

func TestApplyValuesDoNotShareStorage(t *testing.T) {
	rs := mustParse(t, rulesetWith(`{"expression": "true", "action": "rewrite", "action_parameters": {"headers": {
		"X-A": {"operation": "set", "value": "a"}, "X-B": {"operation": "set", "value": "b"}}}}`))
	h := http.Header{}
	rs.Apply(h, verifiedEnv())
	h.Add("X-A", "a2") // must not overwrite X-B's value in a shared array
	assert.Equal(t, []string{"a", "a2"}, h["X-A"])
	assert.Equal(t, []string{"b"}, h["X-B"])
	h2 := http.Header{}
	rs.Apply(h2, verifiedEnv())
	h2["X-A"][0] = "changed"
	assert.Equal(t, "a", h.Get("X-A"), "separate Apply calls must not share values")
}

func TestApplyNilSafe(t *testing.T) {
	var rs *Ruleset
	rs.Apply(http.Header{}, verifiedEnv())
	assert.Nil(t, rs.Headers())
	assert.Zero(t, rs.Len())
	DefaultRuleset().Apply(nil, verifiedEnv())
}

func TestHeadersPairsLeafAndChain(t *testing.T) {
	rs := mustParse(t, rulesetWith(`{"expression": "true", "action": "rewrite", "action_parameters": {"headers": {"client-cert-chain": {"operation": "remove"}, "x-b": {"operation": "remove"}}}}`,
		`{"expression": "true", "enabled": false, "action": "rewrite", "action_parameters": {"headers": {"X-Disabled": {"operation": "remove"}}}}`))
	assert.Equal(t, []string{"Client-Cert", "Client-Cert-Chain", "X-B"}, rs.Headers())
	hs := rs.Headers()
	hs[0] = "mutated"
	assert.Equal(t, "Client-Cert", rs.Headers()[0], "Headers returns a copy")
}

func TestDefaultRuleset(t *testing.T) {
	leaf := verifiedEnv().s[FieldCertRFC9440]
	chain := verifiedEnv().s[FieldCertChainRFC9440]
	forged := http.Header{"Client-Cert": {":Zm9yZ2Vk:"}, "Client-Cert-Chain": {":Zm9yZ2Vk:"}, "Accept": {"*/*"}}
	cases := []struct {
		name      string
		env       func(e *fakeEnv)
		wantLeaf  string
		wantChain string
	}{
		{"verified with chain sets both", func(e *fakeEnv) {}, leaf, chain},
		{"verified without chain sets the leaf only", func(e *fakeEnv) { e.s[FieldCertChainRFC9440] = "" }, leaf, ""},
		{"chain too large sets the leaf only", func(e *fakeEnv) {
			e.s[FieldCertChainRFC9440], e.b[FieldCertChainRFC9440TooLarge] = "", true
		}, leaf, ""},
		{"leaf too large sets neither", func(e *fakeEnv) {
			e.s[FieldCertRFC9440], e.b[FieldCertRFC9440TooLarge] = "", true
		}, "", ""},
		{"unverified sets neither", func(e *fakeEnv) { e.b[FieldCertVerified] = false }, "", ""},
		{"revoked sets neither", func(e *fakeEnv) { e.b[FieldCertRevoked] = true }, "", ""},
		{"no certificate sets neither", func(e *fakeEnv) { *e = fakeEnv{} }, "", ""},
		{"verified but empty leaf never leaves a chain", func(e *fakeEnv) { e.s[FieldCertRFC9440] = "" }, "", ""},
	}
	rs := DefaultRuleset()
	assert.Equal(t, 4, rs.Len())
	assert.Equal(t, []string{"Client-Cert", "Client-Cert-Chain"}, rs.Headers())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := verifiedEnv()
			tc.env(env)
			h := forged.Clone()
			rs.Apply(h, env)
			assert.Equal(t, tc.wantLeaf, h.Get("Client-Cert"))
			assert.Equal(t, tc.wantChain, h.Get("Client-Cert-Chain"))
			assert.Len(t, h["Client-Cert"], min(1, len(tc.wantLeaf)))
			assert.Equal(t, "*/*", h.Get("Accept"))
		})
	}
}

func TestManagedTransformRuleset(t *testing.T) {
	rs := ManagedTransformRuleset()
	hs := rs.Headers()
	require.Len(t, hs, 17)
	for _, h := range hs {
		assert.True(t, strings.HasPrefix(h, "Cf-Cert-"), h)
		assert.NotContains(t, strings.ToLower(h), "rfc9440")
	}
	env := verifiedEnv()
	h := http.Header{}
	rs.Apply(h, env)
	assert.Equal(t, "true", h.Get("cf-cert-presented"))
	assert.Equal(t, "true", h.Get("cf-cert-verified"))
	assert.Equal(t, "false", h.Get("cf-cert-revoked"))
	assert.Equal(t, env.s[FieldCertSubjectDN], h.Get("cf-cert-subject-dn"))
	assert.Equal(t, env.s[FieldCertSerial], h.Get("cf-cert-serial"))
	assert.Equal(t, env.s[FieldCertFingerprintSHA256], h.Get("cf-cert-fingerprint-sha256"))
	_, has := h["Cf-Cert-Issuer-Serial"]
	assert.False(t, has, "empty fields are not sent")

	// A revoked certificate is not presented as verified.
	env.b[FieldCertRevoked] = true
	h = http.Header{}
	rs.Apply(h, env)
	assert.Equal(t, "false", h.Get("cf-cert-verified"))
	assert.Equal(t, "true", h.Get("cf-cert-revoked"))

	// Every cf-cert-<x> header carries field cert_<x>: check the mapping for each field.
	all := &fakeEnv{}
	for id, f := range CloudflareFields() {
		all.s[id] = "v:" + f.Name
	}
	h = http.Header{}
	rs.Apply(h, all)
	for _, f := range CloudflareFields() {
		x, ok := strings.CutPrefix(f.Name, TLSClientAuthPrefix+"cert_")
		if !ok || strings.Contains(x, "rfc9440") {
			continue
		}
		name := "cf-cert-" + strings.ReplaceAll(x, "_", "-")
		if f.Kind == Bool {
			assert.Equal(t, "false", h.Get(name), name)
		} else {
			assert.Equal(t, "v:"+f.Name, h.Get(name), name)
		}
	}
}

func TestPresetJSONRoundTrip(t *testing.T) {
	for _, name := range []string{"default.json", "managed-transform.json", "xfcc.json"} {
		data, err := PresetJSON(name)
		require.NoError(t, err)
		rs, err := LoadRuleset(strings.NewReader(string(data)), cfSchema)
		require.NoError(t, err, name)
		assert.NotZero(t, rs.Len())
		onDisk, err := os.ReadFile("presets/" + name)
		require.NoError(t, err)
		assert.Equal(t, onDisk, data)
	}
	_, err := PresetJSON("nope.json")
	assert.Error(t, err)
}

func TestDefaultChainRuleIncludesLeafCondition(t *testing.T) {
	// Enforced by the expressions too, not only by Apply's final check.
	data, err := PresetJSON("default.json")
	require.NoError(t, err)
	var doc struct {
		Rules []struct {
			Expression       string
			ActionParameters struct {
				Headers map[string]struct{ Operation, Expression string }
			} `json:"action_parameters"`
		}
	}
	require.NoError(t, json.Unmarshal(data, &doc))
	var leafCond, chainCond string
	for _, r := range doc.Rules {
		if op, ok := r.ActionParameters.Headers["Client-Cert"]; ok && op.Operation == "set" {
			leafCond = r.Expression
		}
		if op, ok := r.ActionParameters.Headers["Client-Cert-Chain"]; ok && op.Operation == "set" {
			chainCond = r.Expression
		}
	}
	require.NotEmpty(t, leafCond)
	assert.True(t, strings.HasPrefix(chainCond, leafCond+" and "), chainCond)
}

func TestApplyAllocations(t *testing.T) {
	rs := DefaultRuleset()
	env := verifiedEnv()
	h := realisticHeader()
	rs.Apply(h, env)
	allocs := testing.AllocsPerRun(200, func() { rs.Apply(h, env) })
	assert.LessOrEqual(t, allocs, 1.0, "one shared value array per call")

	none := &fakeEnv{}
	allocs = testing.AllocsPerRun(200, func() { rs.Apply(h, none) })
	assert.Zero(t, allocs, "removing only does not allocate")
}

// realisticHeader is what a browser-ish client sends through a proxy.
func realisticHeader() http.Header {
	return http.Header{
		"Accept":            {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		"Accept-Encoding":   {"gzip, deflate, br"},
		"Accept-Language":   {"en-US,en;q=0.5"},
		"Cookie":            {"session=4f2a9c1e; theme=dark"},
		"User-Agent":        {"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
		"X-Forwarded-For":   {"198.51.100.7"},
		"X-Forwarded-Proto": {"https"},
		"X-Request-Id":      {"7b3e0d1c-5a44-4c1b-9f0e-2d6a8b9c0e11"},
	}
}

func TestValueEval(t *testing.T) {
	env := verifiedEnv()
	cases := []struct{ src, want string }{
		{"http.host", "app.example.com"},
		{"  http.host  ", "app.example.com"},
		{"cf.tls_client_auth.cert_verified", "true"},
		{"cf.tls_client_auth.cert_revoked", "false"},
		{"ip.src", "192.0.2.10"},
		{`"static"`, "static"},
		{`r"raw\n"`, `raw\n`},
		{`""`, ""},
	}
	for _, tc := range cases {
		v, err := CompileValue(tc.src, cfSchema)
		require.NoError(t, err, tc.src)
		assert.Equal(t, tc.want, v.Eval(env), tc.src)
		assert.Equal(t, tc.src, v.String())
	}
	v, err := CompileValue("ip.src", cfSchema)
	require.NoError(t, err)
	assert.Equal(t, "", v.Eval(&fakeEnv{}), "absent IP")
	env.ip[FieldIPSrc] = netip.MustParseAddr("::ffff:10.0.0.1")
	assert.Equal(t, "10.0.0.1", v.Eval(env))

	errs := []struct {
		src string
		pos int
		msg string
	}{
		{"", 0, "empty expression"},
		{"nope", 0, `unknown field "nope"`},
		{"http.host http.host", 10, "expected end of value expression"},
		{"concat(http.host)", 0, "functions are not supported"},
		{`"a\n"`, 2, "invalid escape"},
		{"42", 0, "expected a field or a quoted string"},
		{strings.Repeat(" ", MaxExpressionLen) + "x", MaxExpressionLen, "limit is 4096"},
	}
	for _, tc := range errs {
		_, err := CompileValue(tc.src, cfSchema)
		var se *SyntaxError
		require.ErrorAs(t, err, &se, tc.src)
		assert.Equal(t, tc.pos, se.Pos, tc.src)
		assert.Contains(t, se.Msg, tc.msg, tc.src)
	}
	allocs := testing.AllocsPerRun(100, func() {
		v, _ := CompileValue("cf.tls_client_auth.cert_rfc9440", cfSchema)
		_ = v
	})
	assert.Positive(t, allocs) // compile may allocate; only Eval must not
	v, err = CompileValue("cf.tls_client_auth.cert_rfc9440", cfSchema)
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(100, func() { v.Eval(env) }))
}

func TestApplyConcurrently(t *testing.T) {
	// One Ruleset serves every request; run under -race to check it is never written.
	rs := mustParse(t, rulesetWith(
		`{"expression": "http.request.uri.path matches \"^/api/\" and ip.src in {192.0.2.0/24}", "action": "rewrite", "action_parameters": {"headers": {"X-A": {"operation": "set", "expression": "http.host"}, "Client-Cert": {"operation": "set", "expression": "cf.tls_client_auth.cert_rfc9440"}}}}`))
	done := make(chan http.Header)
	for range 8 {
		go func() {
			h := realisticHeader()
			for range 100 {
				rs.Apply(h, verifiedEnv())
			}
			done <- h
		}()
	}
	for range 8 {
		h := <-done
		assert.Equal(t, "app.example.com", h.Get("X-A"))
	}
}

func TestXFCCRuleset(t *testing.T) {
	rs := XFCCRuleset()
	assert.Equal(t, []string{"X-Forwarded-Client-Cert"}, rs.Headers())
	env := verifiedEnv()
	env.s[FieldXFCC] = `Hash=ab;Subject="CN=x";URI=`
	h := http.Header{"X-Forwarded-Client-Cert": {"Hash=forged"}}
	rs.Apply(h, env)
	assert.Equal(t, []string{`Hash=ab;Subject="CN=x";URI=`}, h["X-Forwarded-Client-Cert"])
	env.b[FieldCertRevoked] = true
	h = http.Header{"X-Forwarded-Client-Cert": {"Hash=forged"}}
	rs.Apply(h, env)
	assert.Empty(t, h["X-Forwarded-Client-Cert"], "a revoked certificate is never forwarded")
	h = http.Header{"X-Forwarded-Client-Cert": {"Hash=forged"}}
	rs.Apply(h, &fakeEnv{})
	assert.Empty(t, h["X-Forwarded-Client-Cert"], "no certificate: the client's copy is removed")
}

func TestReferences(t *testing.T) {
	assert.True(t, XFCCRuleset().References(XFCCField))
	assert.False(t, DefaultRuleset().References(XFCCField))
	assert.True(t, DefaultRuleset().References("cf.tls_client_auth.cert_rfc9440"))
	var nilRS *Ruleset
	assert.False(t, nilRS.References(XFCCField))
}

func TestUncheckedForwarding(t *testing.T) {
	assert.Empty(t, DefaultRuleset().UncheckedForwarding())
	assert.Empty(t, ManagedTransformRuleset().UncheckedForwarding(), "the preset sends the verification result with the fields")
	rs, err := ParseRuleset([]byte(rulesetWith(`{"ref": "leak", "expression": "cf.tls_client_auth.cert_presented", "action": "rewrite", "action_parameters": {"headers": {"X-Cert": {"operation": "set", "expression": "cf.tls_client_auth.cert_rfc9440"}}}}`)), NewSchema(CloudflareFields()))
	require.NoError(t, err)
	assert.Equal(t, []string{"leak"}, rs.UncheckedForwarding())
}
