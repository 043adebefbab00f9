package posture_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/posture"
)

// TestInlineAndFileRulesReportTheSameProblems: a rule stated through
// cert_posture's columns and a rule of the config file go through one
// per-rule validator, so the same bad value gives the same message. Only the
// field's name differs: the column for an inline rule, the JSON path for a
// config file's rule.
func TestInlineAndFileRulesReportTheSameProblems(t *testing.T) {
	pemText, _ := caPEM(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, []byte(pemText), 0o600))
	const id = "2458ce5a-0c35-4c7f-82c7-8e9487d3ff60"
	fileRule := func(input string) posture.Problems {
		t.Helper()
		cfg, err := posture.Decode([]byte(`{"mtls_certificates": [{"id": "` + id + `", "name": "c", "ca": true, "certificates": ` + quote(pemText) + `}],
		  "rules": [{"name": "r", "type": "client_certificate_v2", "input": {"certificate_id": "` + id + `", ` + input + `}}]}`))
		require.NoError(t, err)
		p := posture.Validate(cfg, "linux")
		require.Len(t, p.Checks, 1)
		return p.Checks[0].Problems
	}
	cases := []struct {
		name        string
		inline      posture.Inline
		fileInput   string // the file rule's input, besides certificate_id
		inlineField string
		fileField   string
	}{
		{"unknown variable in cn", posture.Inline{CN: "${user}_corp"},
			`"cn": "${user}_corp", "check_private_key": false`, "cn", "rules[0].input.cn"},
		{"unterminated variable in cn", posture.Inline{CN: "${serial_number", CheckPrivateKey: "1"},
			`"cn": "${serial_number", "check_private_key": true`, "cn", "rules[0].input.cn"},
		{"unknown usage", posture.Inline{EKU: "clientauthx"},
			`"extended_key_usage": ["clientauthx"], "check_private_key": false`, "eku", "rules[0].input.extended_key_usage[0]"},
		{"usage OID with a component too large", posture.Inline{EKU: " , 1.3.6.1.5.5.7.3.99999999999"},
			`"extended_key_usage": ["1.3.6.1.5.5.7.3.99999999999"], "check_private_key": false`, "eku", "rules[0].input.extended_key_usage[0]"},
		{"blank search path", posture.Inline{SearchPath: "  "},
			`"check_private_key": false, "locations": {"paths": ["  "]}`, "search_path", "rules[0].input.locations.paths[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.inline
			in.CAPath = caFile
			inline := in.Check().Problems
			file := fileRule(tc.fileInput)
			require.Len(t, inline, 1, "%v", inline)
			require.Len(t, file, 1, "%v", file)
			assert.Equal(t, file[0].Message, inline[0].Message)
			assert.Equal(t, tc.inlineField, inline[0].Path)
			assert.Equal(t, tc.fileField, file[0].Path)
		})
	}

	// The one intended difference: a config file's paths must be absolute
	// (its rules are copied between machines), an inline search_path is read
	// where the query runs.
	assert.Empty(t, posture.Inline{CAPath: caFile, SearchPath: "certs/c.pem"}.Check().Problems)
	assert.Equal(t, `"certs/c.pem" is not an absolute path`,
		fileRule(`"check_private_key": false, "locations": {"paths": ["certs/c.pem"]}`)[0].Message)
}

// TestInlineCheck pins what the columns become: defaults, list parsing and
// the column-only check_private_key values.
func TestInlineCheck(t *testing.T) {
	pemText, caCert := caPEM(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, []byte(pemText), 0o600))
	cases := []struct {
		name     string
		in       posture.Inline
		eku      []string
		key      bool
		paths    []string
		noCA     bool
		problems []string
	}{
		{name: "defaults: no key check, the trust stores", in: posture.Inline{}},
		{name: "usages, blanks skipped, normalised", in: posture.Inline{EKU: "clientauth, ,1.3.6.1.5.5.7.3.4,", CheckPrivateKey: " TRUE "},
			eku: []string{"clientAuth", "emailProtection"}, key: true},
		{name: "a search path instead of the trust stores", in: posture.Inline{SearchPath: "/etc/c.pem", CheckPrivateKey: "0"},
			paths: []string{"/etc/c.pem"}},
		{name: "check_private_key not 0 or 1", in: posture.Inline{CheckPrivateKey: "yes"},
			problems: []string{`check_private_key: "yes" is not 0 or 1`}},
		{name: "no CA", in: posture.Inline{CN: "${x}"}, noCA: true,
			problems: []string{"ca_path: required", "cn: unknown variable ${x} (only ${serial_number} and ${hostname})"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if !tc.noCA {
				in.CAPath = caFile
			}
			ck := in.Check()
			var got []string
			for _, p := range ck.Problems {
				got = append(got, p.Error())
			}
			assert.Equal(t, tc.problems, got)
			assert.Equal(t, posture.InlineRuleName, ck.Name)
			assert.True(t, ck.CheckValidity)
			if tc.problems != nil {
				return
			}
			assert.True(t, ck.CA.Certificates[0].Equal(caCert))
			assert.Equal(t, posture.DerivedID(caCert), ck.CertificateID)
			assert.Equal(t, tc.eku, ck.EKUs)
			assert.Equal(t, tc.key, ck.CheckPrivateKey)
			assert.Equal(t, tc.paths, ck.Paths)
			if tc.paths == nil {
				assert.NotEmpty(t, ck.TrustStores, "no search path: the system and user stores")
			} else {
				assert.Empty(t, ck.TrustStores)
			}
		})
	}
}
