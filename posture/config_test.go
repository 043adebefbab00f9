package posture_test

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testpki"
	"github.com/certsight/certsight/internal/testposture"
	"github.com/certsight/certsight/posture"
	"github.com/certsight/certsight/posture/identity"
	"github.com/certsight/certsight/stores/scan"
)

// caPEM returns the fixture CA as a JSON-quotable PEM string.
func caPEM(t *testing.T) (string, *x509.Certificate) {
	t.Helper()
	f, _ := testposture.Build(t, identity.Fixed("h", "s", nil))
	b, err := os.ReadFile(f.CAFile)
	require.NoError(t, err)
	blk, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(blk.Bytes)
	require.NoError(t, err)
	return strings.TrimSpace(string(b)), c
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestDecodeProblems(t *testing.T) {
	tests := []struct {
		name string
		json string
		want []string
	}{
		{"syntax error names line and column", "{\n  \"rules\": [,]\n}", []string{"invalid JSON at line 2, column"}},
		{"truncated", `{"rules": [`, []string{"ends in the middle"}},
		{"empty file", ``, []string{"empty"}},
		{"two values", `{} {}`, []string{"more than one value"}},
		{"top level not an object", `[]`, []string{"(top level): want an object, got a list"}},
		{"unknown top-level field", `{"rulez": []}`, []string{`rulez: unknown field (known: mtls_certificates, rules)`}},
		{"unknown nested field with suggestion", `{"rules": [{"input": {"locations": {"trustStores": ["user"]}}}]}`,
			[]string{`rules[0].input.locations.trustStores: unknown field (did you mean "trust_stores"?)`}},
		{"wrong type", `{"rules": [{"input": {"check_private_key": "yes"}}]}`,
			[]string{`rules[0].input.check_private_key: want true or false, got the string "yes"`}},
		{"list expected", `{"rules": [{"input": {"extended_key_usage": "clientAuth"}}]}`,
			[]string{`rules[0].input.extended_key_usage: want a list`}},
		{"every problem reported", `{"rules": [{"nme": 1, "input": {"cn": 5}}], "x": 1}`,
			[]string{"rules[0].nme: unknown field", "rules[0].input.cn: want a string, got the number 5", "x: unknown field"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := posture.Decode([]byte(tc.json))
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	pemText, caCert := caPEM(t)
	id := "2458ce5a-0c35-4c7f-82c7-8e9487d3ff60"
	ca := `{"id": "` + id + `", "name": "example_ca_cert", "ca": true, "certificates": ` + quote(pemText) + `}`
	okInput := `"certificate_id": "` + id + `", "check_private_key": true, "locations": {"paths": ["/etc/c.pem"]}`
	tests := []struct {
		name  string
		rules string
		cas   string
		want  []string
	}{
		{"valid", `{"name": "r", "type": "client_certificate_v2", "input": {` + okInput + `}}`, ca, nil},
		{"trust store machine", `{"name": "r", "type": "client_certificate_v2", "input": {` + okInput + `, "operating_system": "linux"}},
		  {"name": "r2", "type": "client_certificate_v2", "input": {"certificate_id": "` + id + `", "check_private_key": false,
		   "locations": {"trust_stores": ["system", "machine"]}}}`, ca,
			[]string{`rules[1].input.locations.trust_stores[1]: unknown value "machine" (want system or user)`}},
		{"required fields", `{"input": {}}`, ca, []string{
			"rules[0].name: required", `rules[0].type: "" is not supported (want "client_certificate_v2")`,
			"rules[0].input.certificate_id: required", "rules[0].input.check_private_key: required"}},
		{"unknown certificate id", `{"name": "r", "type": "client_certificate_v2", "input": {"certificate_id": "nope", "check_private_key": true}}`, ca,
			[]string{`rules[0].input.certificate_id: "nope" is not the id of any mtls_certificates entry`}},
		{"bad values", `{"name": "r", "type": "client_certificate_v2", "input": {` + okInput + `, "operating_system": "macos",
		  "cn": "${user}", "extended_key_usage": ["clientAuth", "clientauthx", "1.3.6.1.5.5.7.3.4"]}}`, ca, []string{
			`rules[0].input.operating_system: unknown value "macos" (want windows, mac or linux)`,
			"rules[0].input.cn: unknown variable ${user}",
			`rules[0].input.extended_key_usage[1]: unknown extended key usage "clientauthx"`}},
		{"relative path", `{"name": "r", "type": "client_certificate_v2", "input": {"certificate_id": "` + id + `", "check_private_key": true, "locations": {"paths": ["certs/c.pem"]}}}`, ca,
			[]string{`rules[0].input.locations.paths[0]: "certs/c.pem" is not an absolute path`}},
		{"duplicate rule name", `{"name": "r", "type": "client_certificate_v2", "input": {` + okInput + `}}, {"name": "r", "type": "client_certificate_v2", "input": {` + okInput + `}}`, ca,
			[]string{`rules[1].name: "r" is also the name of rules[0]`}},
		{"bad CA entries", `{"name": "r", "type": "client_certificate_v2", "input": {` + okInput + `}}`,
			ca + `, {"id": "x1", "ca": true, "certificates": "hello"}, {"ca": true, "certificates": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"}, {"id": "` + id + `", "ca": false, "certificates": ` + quote(pemText) + `}`,
			[]string{`mtls_certificates[1].id: "x1" is not a UUID`, "mtls_certificates[1].certificates: not PEM",
				`mtls_certificates[2].certificates: PEM block 1 is "PRIVATE KEY", want CERTIFICATE`,
				`mtls_certificates[3].id: "` + id + `" is also the id of mtls_certificates[0]`}},
		{"rule on a non-CA entry", `{"name": "r", "type": "client_certificate_v2", "input": {` + okInput + `}}`,
			`{"id": "` + id + `", "ca": false, "certificates": ` + quote(pemText) + `}`,
			[]string{`rules[0].input.certificate_id: mtls_certificates[0] has "ca": false`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := posture.Decode([]byte(`{"mtls_certificates": [` + tc.cas + `], "rules": [` + tc.rules + `]}`))
			require.NoError(t, err)
			p := posture.Validate(cfg, "linux")
			if tc.want == nil {
				assert.Empty(t, p.Problems)
				require.Len(t, p.Checks, 1)
				ck := p.Checks[0]
				assert.Equal(t, "example_ca_cert", ck.CA.Name)
				assert.True(t, ck.CA.Certificates[0].Equal(caCert))
				assert.True(t, ck.CheckValidity, "check_validity defaults to true")
				return
			}
			for _, w := range tc.want {
				assert.Contains(t, p.Problems.Error(), w)
			}
		})
	}
}

func TestValidateProblemsStayWithTheirRule(t *testing.T) {
	pemText, _ := caPEM(t)
	cfg, err := posture.Decode([]byte(`{"mtls_certificates": [{"name": "c", "ca": true, "certificates": ` + quote(pemText) + `}],
	  "rules": [{"name": "bad", "type": "client_certificate_v2", "input": {"check_private_key": true, "cn": "${nope}"}},
	            {"name": "good", "type": "client_certificate_v2", "input": {"check_private_key": true, "certificate_id": "x"}}]}`))
	require.NoError(t, err)
	p := posture.Validate(cfg, "linux")
	require.Len(t, p.Checks, 2)
	assert.Contains(t, p.Checks[0].Problems.Error(), "rules[0].input.cn")
	assert.NotContains(t, p.Checks[1].Problems.Error(), "rules[0]")
	// An entry without id gets a stable derived one.
	assert.Equal(t, p.CAs[0].ID, posture.Validate(cfg, "linux").CAs[0].ID)
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, p.CAs[0].ID)

	res := posture.EvaluateCheck(t.Context(), p.Checks[0], posture.Env{Scanner: scan.New(nil)})
	assert.False(t, res.Passed)
	assert.True(t, res.Evaluated)
	assert.Contains(t, res.Reason, "invalid rule in config: rules[0].input.certificate_id: required")
}

func TestNormalizeEKU(t *testing.T) {
	for in, want := range map[string]string{
		"clientAuth": "clientAuth", "CLIENTAUTH": "clientAuth", "emailProtection": "emailProtection",
		"1.3.6.1.5.5.7.3.2": "clientAuth", "1.3.6.1.5.5.7.3.4": "emailProtection", "1.2.3.4": "1.2.3.4",
	} {
		got, err := posture.NormalizeEKU(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "client", "1.", "1..2", "9.1", "1.3.6.1.5.5.7.3.99999999999999"} {
		_, err := posture.NormalizeEKU(bad)
		assert.Error(t, err, bad)
	}
}

func TestSourceReloadsAndReportsBrokenConfig(t *testing.T) {
	dev := identity.Fixed("host-1", "SN-1", nil)
	f, cases := testposture.Build(t, dev)
	env := posture.Env{Scanner: scan.New(nil), Device: dev}
	path := filepath.Join(t.TempDir(), "posture.json")
	src := posture.NewSource(path)

	// Missing: one row that says so, neither passed nor failed.
	rs := src.Load().Evaluate(t.Context(), env)
	require.Len(t, rs, 1)
	assert.False(t, rs[0].Evaluated)
	assert.Contains(t, rs[0].Reason, "no posture config at "+path)

	good, err := os.ReadFile(f.ConfigFile)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, good, 0o644))
	rs = src.Load().Evaluate(t.Context(), env)
	require.Len(t, rs, len(cases))

	// Broken: one failed row naming the problem; not the last good config.
	require.NoError(t, os.WriteFile(path, []byte(`{"rules": [{"input": {"bogus": 1}}]}`), 0o644))
	rs = src.Load().Evaluate(t.Context(), env)
	require.Len(t, rs, 1)
	assert.True(t, rs[0].Evaluated)
	assert.False(t, rs[0].Passed)
	assert.Equal(t, "", rs[0].Rule)
	assert.Contains(t, rs[0].Reason, "config "+path+": rules[0].input.bogus: unknown field")

	// Fixed again: back to every rule.
	require.NoError(t, os.WriteFile(path, good, 0o644))
	assert.Len(t, src.Load().Evaluate(t.Context(), env), len(cases))

	// No rules.
	require.NoError(t, os.WriteFile(path, []byte(`{"mtls_certificates": [], "rules": []}`), 0o644))
	rs = src.Load().Evaluate(t.Context(), env)
	require.Len(t, rs, 1)
	assert.Contains(t, rs[0].Reason, "has no rules")
}

func TestAddCA(t *testing.T) {
	pemText, caCert := caPEM(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caFile, []byte(pemText+"\n"), 0o600))
	cfgPath := filepath.Join(dir, "conf", "posture.json")
	now := time.Date(2026, 11, 22, 17, 32, 30, 467938000, time.UTC)

	resp, existing, err := posture.AddCA(cfgPath, []byte(pemText), "example_ca_cert", now)
	require.NoError(t, err)
	assert.False(t, existing)
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, resp.ID)
	assert.Equal(t, "example_ca_cert", resp.Name)
	assert.True(t, resp.CA)
	assert.Equal(t, "CN=Posture Test CA,O=certsight tests,C=US", resp.Issuer)
	assert.Equal(t, "ECDSAWithSHA256", resp.Signature)
	assert.Equal(t, caCert.SerialNumber.String(), resp.SerialNumber)
	assert.Equal(t, caCert.NotAfter.UTC().Format(time.RFC3339), resp.ExpiresOn)
	assert.Equal(t, "2026-11-22T17:32:30.467938Z", resp.UploadedOn)
	assert.Equal(t, "custom", resp.Type)
	assert.Equal(t, pemText, resp.Certificates)

	// The file decodes, validates, and the id is what the table shows.
	data, err := os.ReadFile(cfgPath)
	require.NoError(t, err)
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(data, &raw))
	assert.Equal(t, "[]", string(raw["rules"]), "a new config has an empty rules list, not null")
	cfg, err := posture.Decode(data)
	require.NoError(t, err)
	p := posture.Validate(cfg, "linux")
	assert.Empty(t, p.Problems)
	require.Len(t, p.CAs, 1)
	assert.Equal(t, resp, p.CAs[0].Response())

	// Adding the same CA again writes nothing and returns the entry.
	again, existing, err := posture.AddCA(cfgPath, []byte(pemText), "other name", now.Add(time.Hour))
	require.NoError(t, err)
	assert.True(t, existing)
	assert.Equal(t, resp, again)

	// Mode is kept.
	require.NoError(t, os.Chmod(cfgPath, 0o600))
	other, _ := caPEM(t)
	_, _, err = posture.AddCA(cfgPath, []byte(other), "second", now)
	require.NoError(t, err)
	st, err := os.Stat(cfgPath)
	require.NoError(t, err)
	if os.PathSeparator == '/' {
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	}
	ents, err := os.ReadDir(filepath.Dir(cfgPath))
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"posture.json", "posture.json.lock"}, names, "no temporary file left behind")

	// A broken config is not touched.
	require.NoError(t, os.WriteFile(cfgPath, []byte(`{"rules": 1}`), 0o644))
	_, _, err = posture.AddCA(cfgPath, []byte(pemText), "x", now)
	assert.ErrorContains(t, err, "not a valid config, not changing it")
	data, err = os.ReadFile(cfgPath)
	require.NoError(t, err)
	assert.Equal(t, `{"rules": 1}`, string(data))
}

func TestAddCARejectsNonCA(t *testing.T) {
	f, _ := testposture.Build(t, identity.Fixed("h", "s", nil))
	leaf, err := os.ReadFile(filepath.Join(f.Dir, "no-key.pem"))
	require.NoError(t, err)
	_, _, err = posture.AddCA(filepath.Join(t.TempDir(), "p.json"), leaf, "x", time.Now())
	assert.ErrorContains(t, err, "is not a CA")
	_, _, err = posture.AddCA(filepath.Join(t.TempDir(), "p.json"), []byte("garbage"), "x", time.Now())
	assert.ErrorContains(t, err, "not PEM")
	good, err := os.ReadFile(filepath.Join(f.Dir, "good.pem"))
	require.NoError(t, err)
	_, _, err = posture.AddCA(filepath.Join(t.TempDir(), "p.json"), good, "x", time.Now())
	assert.ErrorContains(t, err, `"PRIVATE KEY", want CERTIFICATE`)
}

func TestParseCAPEMRefusesABrokenBlockAfterAGoodOne(t *testing.T) {
	ca, err := testpki.NewRoot("CA")
	require.NoError(t, err)
	good := string(ca.CertPEM())
	certs, err := posture.ParseCAPEM(good)
	require.NoError(t, err)
	assert.Len(t, certs, 1)
	// A second CERTIFICATE block with no END line used to be dropped in
	// silence; an operator who pasted two CAs must learn that one is bad.
	_, err = posture.ParseCAPEM(good + "-----BEGIN CERTIFICATE-----\nMIIB\n")
	assert.Error(t, err)
}

func TestSignatureName(t *testing.T) {
	for alg, want := range map[x509.SignatureAlgorithm]string{
		x509.SHA256WithRSA: "SHA256WithRSA", x509.SHA384WithRSA: "SHA384WithRSA", x509.SHA1WithRSA: "SHA1WithRSA",
		x509.ECDSAWithSHA256: "ECDSAWithSHA256", x509.ECDSAWithSHA384: "ECDSAWithSHA384",
		x509.SHA256WithRSAPSS: "SHA256WithRSAPSS", x509.PureEd25519: "Ed25519",
	} {
		assert.Equal(t, want, posture.SignatureName(alg))
	}
}

// TestValidateLocationPaths: a location is judged absolute by the rule's
// operating system, not by the OS the check runs on, and a registry key path
// is a location everywhere, as it is in client_certificates' WHERE path.
func TestValidateLocationPaths(t *testing.T) {
	pemText, _ := caPEM(t)
	id := "2458ce5a-0c35-4c7f-82c7-8e9487d3ff60"
	ca := `{"id": "` + id + `", "name": "example_ca_cert", "ca": true, "certificates": ` + quote(pemText) + `}`
	tests := []struct {
		os, path string
		ok       bool
	}{
		{"linux", "/etc/c.pem", true},
		{"linux", "certs/c.pem", false},
		{"linux", `C:\certs\c.pem`, false},
		{"linux", `HKLM\SOFTWARE\Microsoft\SystemCertificates\My\Certificates`, true},
		{"darwin", "/Users/alice/Library/Keychains/login.keychain-db", true},
		{"windows", `C:\certs\c.pem`, true},
		{"windows", `c:/certs/c.pem`, true},
		{"windows", `\\server\share\c.pem`, true},
		{"windows", `HKLM\SOFTWARE\Microsoft\SystemCertificates\My\Certificates`, true},
		{"windows", `HKEY_USERS\S-1-5-21-1-2-3-1001\Software\Microsoft\SystemCertificates\My\Certificates`, true},
		{"windows", `hkcu/Software/Microsoft/SystemCertificates/My/Certificates`, true},
		{"windows", `certs\c.pem`, false},
		{"windows", `\certs\c.pem`, false},
		{"windows", `C:certs\c.pem`, false},
		{"windows", "/etc/c.pem", false},
	}
	for _, tc := range tests {
		t.Run(tc.os+" "+tc.path, func(t *testing.T) {
			rule := `{"name": "r", "type": "client_certificate_v2", "input": {"certificate_id": "` + id +
				`", "check_private_key": true, "locations": {"paths": [` + quote(tc.path) + `]}}}`
			cfg, err := posture.Decode([]byte(`{"mtls_certificates": [` + ca + `], "rules": [` + rule + `]}`))
			require.NoError(t, err)
			p := posture.Validate(cfg, tc.os)
			if tc.ok {
				assert.Empty(t, p.Problems)
			} else {
				assert.ErrorContains(t, p.Problems, "rules[0].input.locations.paths[0]: "+quote(tc.path)+" is not an absolute path")
			}
		})
	}
}
