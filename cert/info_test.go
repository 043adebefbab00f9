package cert_test

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/cert"
)

// certFacts is what make.sh asked OpenSSL to put into each certificate.
type certFacts struct {
	file       string
	keyAlg     string
	keyBits    string // key strength as certsight prints it
	sigAlg     string
	keyUsage   []string
	extKey     []string
	isCA       bool
	selfSigned bool
}

var (
	kuCA   = []string{"keyCertSign", "cRLSign"}
	kuSig  = []string{"digitalSignature"}
	client = []string{"clientAuth"}
)

var fixtures = []certFacts{
	{file: "root.pem", keyAlg: "RSA", keyBits: "4096", sigAlg: "SHA256-RSA", keyUsage: kuCA, isCA: true, selfSigned: true},
	{file: "inter.pem", keyAlg: "ECDSA", keyBits: "P-384", sigAlg: "SHA256-RSA", keyUsage: kuCA, isCA: true},
	{file: "leaf.pem", keyAlg: "ECDSA", keyBits: "P-256", sigAlg: "ECDSA-SHA256", keyUsage: kuSig, extKey: client},
	{file: "rsa2048.pem", keyAlg: "RSA", keyBits: "2048", sigAlg: "ECDSA-SHA256", keyUsage: []string{"digitalSignature", "keyEncipherment"}, extKey: []string{"clientAuth", "emailProtection"}},
	{file: "ed25519.pem", keyAlg: "Ed25519", keyBits: "256", sigAlg: "ECDSA-SHA256", keyUsage: kuSig, extKey: client},
	{file: "eku-client.pem", keyAlg: "ECDSA", keyBits: "P-256", sigAlg: "ECDSA-SHA256", extKey: client},
	{file: "eku-email.pem", keyAlg: "ECDSA", keyBits: "P-256", sigAlg: "ECDSA-SHA256",
		keyUsage: []string{"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement"},
		extKey:   []string{"emailProtection"}},
	{file: "eku-client-email.pem", keyAlg: "ECDSA", keyBits: "P-256", sigAlg: "ECDSA-SHA256", extKey: []string{"clientAuth", "emailProtection"}},
	{file: "eku-email-client.pem", keyAlg: "ECDSA", keyBits: "P-256", sigAlg: "ECDSA-SHA256", extKey: []string{"emailProtection", "clientAuth"}},
	{file: "eku-server.pem", keyAlg: "ECDSA", keyBits: "P-256", sigAlg: "ECDSA-SHA256",
		keyUsage: []string{"keyAgreement", "encipherOnly", "decipherOnly"}, extKey: []string{"serverAuth"}},
	{file: "eku-codesign-ts-ocsp.pem", keyAlg: "ECDSA", keyBits: "P-256", sigAlg: "ECDSA-SHA256", extKey: []string{"codeSigning", "timeStamping", "OCSPSigning"}},
	{file: "eku-unknown.pem", keyAlg: "ECDSA", keyBits: "P-256", sigAlg: "ECDSA-SHA256", extKey: []string{"clientAuth", "1.3.6.1.4.1.99999.1", "msSmartcardLogin"}},
	{file: "eku-none.pem", keyAlg: "ECDSA", keyBits: "P-256", sigAlg: "ECDSA-SHA256"},
	{file: "big.pem", keyAlg: "ECDSA", keyBits: "P-256", sigAlg: "ECDSA-SHA256", extKey: client},
	{file: "lookalike-ca.pem", keyAlg: "ECDSA", keyBits: "P-384", sigAlg: "ECDSA-SHA384", keyUsage: kuCA, isCA: true, selfSigned: true},
	{file: "lookalike-leaf.pem", keyAlg: "ECDSA", keyBits: "P-256", sigAlg: "ECDSA-SHA256", keyUsage: kuSig, extKey: client},
	{file: "namesake.pem", keyAlg: "ECDSA", keyBits: "P-256", sigAlg: "SHA256-RSA", keyUsage: kuSig, extKey: client},
	{file: "selfsigned.pem", keyAlg: "ECDSA", keyBits: "P-256", sigAlg: "ECDSA-SHA256", keyUsage: kuSig, extKey: client, selfSigned: true},
	{file: "sha1-selfsigned.pem", keyAlg: "RSA", keyBits: "2048", sigAlg: "SHA1-RSA", keyUsage: kuSig, extKey: client, selfSigned: true},
	{file: "sha1-leaf.pem", keyAlg: "ECDSA", keyBits: "P-256", sigAlg: "ECDSA-SHA1", keyUsage: kuSig, extKey: client},
	{file: "names.pem", keyAlg: "ECDSA", keyBits: "P-256", sigAlg: "ECDSA-SHA256", keyUsage: kuSig, extKey: client, selfSigned: true},
	{file: "names-bmp.pem", keyAlg: "ECDSA", keyBits: "P-256", sigAlg: "ECDSA-SHA256", keyUsage: kuSig, extKey: client, selfSigned: true},
	{file: "expired.pem", keyAlg: "ECDSA", keyBits: "P-256", sigAlg: "ECDSA-SHA256", keyUsage: kuSig, extKey: client},
	{file: "notyet.pem", keyAlg: "ECDSA", keyBits: "P-256", sigAlg: "ECDSA-SHA256", keyUsage: kuSig, extKey: client},
}

// The names fixtures hold what Go and OpenSSL escape differently in RFC 2253
// form (UTF-8 bytes, emailAddress); certsight prints Go's form for those
// (docs/contracts.md, "Value formats").
var goOnlyRFC2253 = map[string]bool{"names.pem": true, "names-bmp.pem": true}

func TestNewInfoAgreesWithOpenSSL(t *testing.T) {
	exp := loadExpected(t)
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			c := fixtureCert(t, fx.file)
			info := cert.NewInfo(c)
			fact := func(name string) string { return exp.fact(t, fx.file, name) }

			assert.Equal(t, fact("serial"), info.Serial, "serial is what openssl x509 -serial prints")
			assert.Equal(t, opensslHex(fact("sha256"), false), info.SHA256, "sha256 is lowercase hex without colons")
			assert.Equal(t, opensslHex(fact("sha1"), false), info.SHA1, "sha1 is lowercase hex without colons")
			assert.Equal(t, fact("notBefore"), cert.FormatTime(info.NotBefore), "not before prints as openssl -startdate")
			assert.Equal(t, fact("notAfter"), cert.FormatTime(info.NotAfter), "not after prints as openssl -enddate")
			assert.Equal(t, fact("subject_compat"), info.SubjectLegacy, "legacy subject is openssl -nameopt compat")
			assert.Equal(t, fact("issuer_compat"), info.IssuerLegacy, "legacy issuer is openssl -nameopt compat")
			if !goOnlyRFC2253[fx.file] {
				assert.Equal(t, fact("subject_rfc2253"), info.Subject, "subject is openssl -nameopt RFC2253")
				assert.Equal(t, fact("issuer_rfc2253"), info.Issuer, "issuer is openssl -nameopt RFC2253")
			}
			assert.Equal(t, opensslHex(fact("ski"), true), info.SubjectKeyID, "SKI is uppercase hex")
			assert.Equal(t, opensslHex(fact("aki"), true), info.AuthorityKeyID, "AKI is uppercase hex")
			if fx.keyAlg == "RSA" {
				assert.Equal(t, fact("key_bits"), info.KeyStrength, "RSA strength is the modulus size openssl prints")
			}

			assert.Equal(t, c.Subject.CommonName, info.CommonName)
			assert.Equal(t, fx.keyAlg, info.KeyAlgorithm, "key algorithm")
			assert.Equal(t, fx.keyBits, info.KeyStrength, "key strength")
			assert.Equal(t, fx.sigAlg, info.SignatureAlgorithm, "signature algorithm")
			assert.Equal(t, fx.keyUsage, info.KeyUsage, "key usage names in bit order")
			assert.Equal(t, fx.extKey, info.ExtKeyUsage, "EKU names in certificate order")
			assert.Equal(t, fx.isCA, info.IsCA, "CA")
			assert.Equal(t, fx.selfSigned, info.SelfSigned, "self-signed")
			for _, e := range fx.extKey {
				assert.True(t, info.HasExtKeyUsage(e), "HasExtKeyUsage(%s)", e)
			}
		})
	}
}

func TestNewInfoNames(t *testing.T) {
	tests := []struct {
		name, file, subject, legacy string
	}{
		{"plain names print CN first in RFC 2253 and certificate order in legacy form", "leaf.pem",
			"CN=James Royal,OU=Access Admins,O=Access,L=Austin,ST=Texas,C=US",
			"/C=US/ST=Texas/L=Austin/O=Access/OU=Access Admins/CN=James Royal"},
		{"multi-valued RDN, escapes, UTF-8, control byte and emailAddress", "names.pem",
			"OU=tab\tx,1.2.840.113549.1.9.1=#0c156a7565406365727473696768742e6578616d706c65," +
				"0.9.2342.19200300.100.1.1=#13036a7565+CN=Jörg Ünal,O=A/B\\+C\\, D=E,C=DE," +
				"0.9.2342.19200300.100.1.25=#13076578616d706c65,0.9.2342.19200300.100.1.25=#1303636f6d",
			`/DC=com/DC=example/C=DE/O=A\/B\+C, D=E/UID=jue+CN=J\xC3\xB6rg \xC3\x9Cnal/emailAddress=jue@certsight.example/OU=tab\x09x`},
		{"BMPString values print their UCS-2 bytes in legacy form, as openssl does", "names-bmp.pem",
			"CN=Zażółć Jörg,O=Łódź Sp. z o.o.,C=PL",
			`/C=PL/O=\x01A\x00\xF3\x00d\x01z\x00 \x00S\x00p\x00.\x00 \x00z\x00 \x00o\x00.\x00o\x00./CN=\x00Z\x00a\x01|\x00\xF3\x01B\x01\x07\x00 \x00J\x00\xF6\x00r\x00g`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := cert.NewInfo(fixtureCert(t, tt.file))
			assert.Equal(t, tt.subject, info.Subject)
			assert.Equal(t, tt.legacy, info.SubjectLegacy)
		})
	}
}

func TestNewInfoSubjectAltNames(t *testing.T) {
	info := cert.NewInfo(fixtureCert(t, "leaf.pem"))
	assert.Equal(t, []string{"client.certsight.example", "*.client.certsight.example"}, info.DNSNames)
	assert.Equal(t, []string{"james@certsight.example"}, info.EmailAddresses)
	assert.Equal(t, []string{"10.0.0.1", "2001:db8::1"}, info.IPAddresses)
	assert.Equal(t, []string{"spiffe://certsight.example/client/james"}, info.URIs)
	assert.Equal(t, []string{
		"DNS:client.certsight.example", "DNS:*.client.certsight.example",
		"email:james@certsight.example",
		"IP:10.0.0.1", "IP:2001:db8::1",
		"URI:spiffe://certsight.example/client/james",
	}, info.SubjectAltNames())

	big := cert.NewInfo(fixtureCert(t, "big.pem"))
	assert.Len(t, big.DNSNames, 400, "all 400 SANs of the large certificate")
	assert.Equal(t, "host-0400.big.certsight.example", big.DNSNames[399])

	none := cert.NewInfo(fixtureCert(t, "root.pem"))
	assert.Empty(t, none.SubjectAltNames(), "a certificate without SANs lists none")
}

func TestAuthorityKeyIDIsIssuerSubjectKeyID(t *testing.T) {
	for _, pair := range [][2]string{{"leaf.pem", "inter.pem"}, {"inter.pem", "root.pem"}, {"rsa2048.pem", "inter.pem"}, {"lookalike-leaf.pem", "lookalike-ca.pem"}} {
		leaf, issuer := cert.NewInfo(fixtureCert(t, pair[0])), cert.NewInfo(fixtureCert(t, pair[1]))
		assert.Equal(t, issuer.SubjectKeyID, leaf.AuthorityKeyID, "%s AKI = %s SKI", pair[0], pair[1])
		assert.Regexp(t, `^[0-9A-F]{40}$`, leaf.AuthorityKeyID)
	}
}

func TestSelfSignedNeedsOwnKeyNotMatchingNames(t *testing.T) {
	namesake := fixtureCert(t, "namesake.pem")
	require.Equal(t, namesake.Subject.String(), namesake.Issuer.String(), "fixture: subject equals issuer")
	assert.False(t, cert.NewInfo(namesake).SelfSigned, "subject == issuer but signed by another key is not self-signed")
	assert.True(t, cert.NewInfo(fixtureCert(t, "root.pem")).SelfSigned, "a root signed by its own key is self-signed")
	assert.True(t, cert.NewInfo(fixtureCert(t, "selfsigned.pem")).SelfSigned, "an end-entity certificate signed by its own key is self-signed")
	assert.True(t, cert.NewInfo(fixtureCert(t, "sha1-selfsigned.pem")).SelfSigned, "a SHA-1 signature by its own key is still self-signed")
}

func TestValidAt(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		file  string
		at    time.Time
		valid bool
	}{
		{"expired certificate is not valid now", "expired.pem", now, false},
		{"expired certificate was valid inside its period", "expired.pem", time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC), true},
		{"validity includes the last second", "expired.pem", time.Date(2021, 3, 9, 12, 34, 56, 0, time.UTC), true},
		{"and ends right after it", "expired.pem", time.Date(2021, 3, 9, 12, 34, 57, 0, time.UTC), false},
		{"not-yet-valid certificate is not valid now", "notyet.pem", now, false},
		{"not-yet-valid certificate becomes valid at its start", "notyet.pem", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.valid, cert.NewInfo(fixtureCert(t, tt.file)).ValidAt(tt.at))
		})
	}
}

func TestFormatTime(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"two-digit day", time.Date(2022, 3, 21, 13, 35, 0, 0, time.UTC), "Mar 21 13:35:00 2022 GMT"},
		{"one-digit day is padded with a space", time.Date(2040, 1, 9, 21, 25, 45, 0, time.UTC), "Jan  9 21:25:45 2040 GMT"},
		{"other zones are converted to GMT", time.Date(2022, 3, 21, 15, 35, 0, 0, time.FixedZone("CEST", 2*3600)), "Mar 21 13:35:00 2022 GMT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, cert.FormatTime(tt.in)) })
	}
}

func TestKeyUsageNames(t *testing.T) {
	assert.Nil(t, cert.KeyUsageNames(0), "no bits, no names")
	assert.Equal(t, []string{"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment",
		"keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"},
		cert.KeyUsageNames(x509.KeyUsage(1<<9-1)), "all nine bits in RFC 5280 order")
	assert.Equal(t, []string{"keyCertSign", "cRLSign"}, cert.KeyUsageNames(x509.KeyUsageCertSign|x509.KeyUsageCRLSign))
}

func TestExtKeyUsageNamesWithoutExtensionBytes(t *testing.T) {
	// A certificate built in memory has no raw extension; Go's slices are used.
	c := &x509.Certificate{
		ExtKeyUsage:        []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		UnknownExtKeyUsage: nil,
	}
	assert.Equal(t, []string{"serverAuth", "clientAuth"}, cert.ExtKeyUsageNames(c))
}

func TestSerialHex(t *testing.T) {
	exp := loadExpected(t)
	tests := []struct{ name, file string }{
		{"leading zero nibble is kept (two digits per byte)", "root.pem"},
		{"top bit set prints no sign byte", "leaf.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cert.SerialHex(fixtureCert(t, tt.file))
			assert.Equal(t, exp.fact(t, tt.file, "serial"), got)
			assert.Equal(t, 0, len(got)%2)
			assert.Equal(t, strings.ToUpper(got), got)
		})
	}
	assert.Equal(t, "", cert.SerialHex(&x509.Certificate{}), "no serial prints empty")
}

func TestNewInfoNil(t *testing.T) {
	assert.Equal(t, cert.Info{}, cert.NewInfo(nil))
}

func TestEveryRecordedCertificateHasFacts(t *testing.T) {
	listed := map[string]bool{}
	for _, fx := range fixtures {
		listed[fx.file] = true
	}
	for file, facts := range loadExpected(t) {
		if _, isCert := facts["serial"]; isCert {
			assert.True(t, listed[file], "%s is in expected.txt but not in the fixtures table", file)
		}
	}
}
