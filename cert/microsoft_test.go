package cert_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/internal/testtool"
)

// The openssl-made fixtures (testdata/microsoft/make.sh) read as Windows
// fleets name them: UPN and other otherNames in the SANs, the strong-mapping
// SID from its extension or from a SAN URI, the template by name and OID.
func TestMicrosoftNames(t *testing.T) {
	for _, tc := range []struct {
		file     string
		sans     []string
		upns     []string
		sid      string
		template string
	}{
		{file: "upn_sid.pem",
			sans: []string{"email:alice@corp.example", "UPN:alice@corp.example", "othername:1.2.3.4:hello"},
			upns: []string{"alice@corp.example"}, sid: "S-1-5-21-3623811015-3361044348-30300820-1013",
			template: "SmartcardUser (1.3.6.1.4.1.311.21.8.8147228.1416744.14353476.6224716.12474437.60.12409617.7291041 v100.7)"},
		{file: "sid_uri.pem",
			sans:     []string{"DNS:ws-0042.corp.example", "URI:tag:microsoft.com,2022-09-14:sid:S-1-5-21-3623811015-3361044348-30300820-1104"},
			sid:      "S-1-5-21-3623811015-3361044348-30300820-1104",
			template: "1.3.6.1.4.1.311.21.8.8147228.1416744.14353476.6224716.12474437.60.1.2"},
		{file: "leaf.pem", sans: []string{"DNS:client.example", "email:client@example.com"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			name := tc.file
			if tc.file != "leaf.pem" {
				name = filepath.Join("microsoft", tc.file)
			}
			info := cert.NewInfo(fixtureCert(t, name))
			if tc.file != "leaf.pem" {
				assert.Equal(t, tc.sans, info.SubjectAltNames())
			}
			assert.Equal(t, tc.upns, info.UPNs)
			assert.Equal(t, tc.sid, info.MSSID)
			assert.Equal(t, tc.template, info.Template)
		})
	}
}

// What openssl x509 -text printed for the SANs (captured by make.sh) names
// the same UPN and otherName values.
func TestMicrosoftNamesAgreeWithOpenSSL(t *testing.T) {
	txt, err := os.ReadFile(filepath.Join("testdata", "microsoft", "upn_sid.txt"))
	require.NoError(t, err)
	assert.Contains(t, string(txt), "othername: UPN::alice@corp.example")
	assert.Contains(t, string(txt), "othername: 1.2.3.4::hello")
	assert.Contains(t, string(txt), "S-1-5-21-3623811015-3361044348-30300820-1013")

	openssl := testtool.Need(t, "openssl")
	out, err := exec.Command(openssl, "x509", "-in", filepath.Join("testdata", "microsoft", "upn_sid.pem"),
		"-noout", "-ext", "subjectAltName").Output()
	require.NoError(t, err)
	info := cert.NewInfo(fixtureCert(t, filepath.Join("microsoft", "upn_sid.pem")))
	for _, upn := range info.UPNs {
		assert.Contains(t, string(out), "UPN::"+upn)
	}
}

// Malformed Microsoft extensions never fail the certificate: the fields are
// left empty and the error says which extension.
func TestMicrosoftNamesMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		ext  pkix.Extension
		err  string
	}{
		{"SID extension not DER", pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 25, 2}, Value: []byte{0x30, 0x05}}, "SID extension"},
		{"template info not a SEQUENCE", pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 21, 7}, Value: []byte{0x04, 0x00}}, "template information"},
		{"otherName without [0] value", pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 17},
			Value: []byte{0x30, 0x07, 0xa0, 0x05, 0x06, 0x03, 0x2a, 0x03, 0x04}}, "otherName value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := cert.ParseMicrosoftNames(&x509.Certificate{Extensions: []pkix.Extension{tc.ext}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
			assert.Empty(t, m.SID)
			assert.Empty(t, m.Template)
		})
	}
	// A SID that is not one is not reported.
	m, err := cert.ParseMicrosoftNames(&x509.Certificate{Extensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 25, 2},
		Value: sidExt(t, "S-1-5-21-1,S-1-5-18")}}})
	require.NoError(t, err)
	assert.Empty(t, m.SID)
	m, err = cert.ParseMicrosoftNames(&x509.Certificate{Extensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 25, 2},
		Value: sidExt(t, "S-1-5-21-1-2-3-500")}}})
	require.NoError(t, err)
	assert.Equal(t, "S-1-5-21-1-2-3-500", m.SID)
}

// sidExt builds a strong-mapping extension value holding sid.
func sidExt(t testing.TB, sid string) []byte {
	t.Helper()
	oid, err := asn1.Marshal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 25, 2, 1})
	require.NoError(t, err)
	val, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: mustDER(t, []byte(sid))})
	require.NoError(t, err)
	on, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(oid, val...)})
	require.NoError(t, err)
	seq, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: on})
	require.NoError(t, err)
	return seq
}

func mustDER(t testing.TB, octets []byte) []byte {
	b, err := asn1.Marshal(octets)
	require.NoError(t, err)
	return b
}

// FuzzMicrosoftNames: arbitrary bytes in the SAN, SID and template
// extensions never panic, and every printed name is one column item (no
// separator or control character).
func FuzzMicrosoftNames(f *testing.F) {
	for _, name := range []string{"upn_sid.pem", "sid_uri.pem"} {
		b, err := os.ReadFile(filepath.Join("testdata", "microsoft", name))
		if err != nil {
			f.Fatal(err)
		}
		bundle, err := cert.Parse(b)
		if err != nil {
			f.Fatal(err)
		}
		for _, ext := range bundle.Certificates[0].Extensions {
			f.Add(ext.Value, ext.Value, ext.Value)
		}
	}
	f.Fuzz(func(t *testing.T, san, sid, tmpl []byte) {
		c := &x509.Certificate{Extensions: []pkix.Extension{
			{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: san},
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 25, 2}, Value: sid},
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2}, Value: tmpl},
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 21, 7}, Value: tmpl},
		}}
		m, _ := cert.ParseMicrosoftNames(c)
		for _, on := range m.OtherNames {
			s := on.String()
			if strings.ContainsAny(s, ",\n\r\x00") || len(s) > 4*1024 {
				t.Fatalf("otherName prints as %q", s)
			}
		}
		if m.SID != "" && !strings.HasPrefix(m.SID, "S-1-") {
			t.Fatalf("SID %q", m.SID)
		}
	})
}
