package cert_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/internal/testtool"
)

// atv builds one attribute with a value of the given universal string tag.
func atv(oid asn1.ObjectIdentifier, tag int, value []byte) pkix.AttributeTypeAndValue {
	return pkix.AttributeTypeAndValue{Type: oid, Value: asn1.RawValue{Class: asn1.ClassUniversal, Tag: tag, Bytes: value}}
}

var (
	oidCN    = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidO     = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidC     = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidUID   = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	oidOdd   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 7}
	oidEmail = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
)

// craftedNames are names openssl would never write but certificates may carry.
var craftedNames = []struct {
	name string
	rdns pkix.RDNSequence
	want string
}{
	{"certificate order, slash before each RDN",
		pkix.RDNSequence{{atv(oidC, asn1.TagPrintableString, []byte("US"))}, {atv(oidCN, asn1.TagUTF8String, []byte("James Royal"))}},
		"/C=US/CN=James Royal"},
	{"multi-valued RDN joins with plus",
		pkix.RDNSequence{{atv(oidCN, asn1.TagUTF8String, []byte("a")), atv(oidUID, asn1.TagUTF8String, []byte("b"))}},
		"/CN=a+UID=b"},
	{"slash and plus in a value are escaped so they cannot fake attributes",
		pkix.RDNSequence{{atv(oidO, asn1.TagUTF8String, []byte("x/CN=admin+UID=0"))}},
		`/O=x\/CN=admin\+UID=0`},
	{"control bytes and DEL print as uppercase \\xHH",
		pkix.RDNSequence{{atv(oidCN, asn1.TagUTF8String, []byte("a\x00b\x1fc\x7f"))}},
		`/CN=a\x00b\x1Fc\x7F`},
	{"UTF-8 prints byte by byte",
		pkix.RDNSequence{{atv(oidCN, asn1.TagUTF8String, []byte("Jörg"))}},
		`/CN=J\xC3\xB6rg`},
	{"IA5String emailAddress",
		pkix.RDNSequence{{atv(oidEmail, asn1.TagIA5String, []byte("a@b.example"))}},
		"/emailAddress=a@b.example"},
	{"unknown attribute prints dotted",
		pkix.RDNSequence{{atv(oidOdd, asn1.TagUTF8String, []byte("v"))}},
		"/1.3.6.1.4.1.99999.7=v"},
	{"BMPString prints its UCS-2 bytes",
		pkix.RDNSequence{{atv(oidCN, asn1.TagBMPString, []byte("\x00J\x00\xf6"))}},
		`/CN=\x00J\x00\xF6`},
	{"T61String prints its Latin-1 bytes",
		pkix.RDNSequence{{atv(oidCN, asn1.TagT61String, []byte("J\xf6rg"))}},
		`/CN=J\xF6rg`},
	{"backslash and equals are not escaped",
		pkix.RDNSequence{{atv(oidCN, asn1.TagUTF8String, []byte(`a\b=c`))}},
		`/CN=a\b=c`},
}

func TestLegacyDN(t *testing.T) {
	for _, tt := range craftedNames {
		t.Run(tt.name, func(t *testing.T) {
			der, err := asn1.Marshal(tt.rdns)
			require.NoError(t, err)
			assert.Equal(t, tt.want, cert.LegacyDN(der))
		})
	}
	t.Run("empty name prints empty", func(t *testing.T) {
		der, err := asn1.Marshal(pkix.RDNSequence{})
		require.NoError(t, err)
		assert.Equal(t, "", cert.LegacyDN(der))
	})
	for name, in := range map[string][]byte{
		"nil":                     nil,
		"not DER":                 []byte("CN=x"),
		"trailing bytes":          append(mustMarshal(t, pkix.RDNSequence{}), 0),
		"truncated":               mustMarshal(t, craftedNames[0].rdns)[:10],
		"SEQUENCE instead of SET": {0x30, 0x07, 0x30, 0x05, 0x30, 0x03, 0x06, 0x01, 0x00},
	} {
		t.Run("undecodable input gives empty: "+name, func(t *testing.T) {
			assert.Equal(t, "", cert.LegacyDN(in))
		})
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	der, err := asn1.Marshal(v)
	require.NoError(t, err)
	return der
}

// TestLegacyDNMatchesLiveOpenSSL puts the crafted names into real certificates
// and asks the installed openssl what -nameopt compat prints.
func TestLegacyDNMatchesLiveOpenSSL(t *testing.T) {
	openssl := testtool.Need(t, "openssl")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	dir := t.TempDir()
	for i, tt := range craftedNames {
		t.Run(tt.name, func(t *testing.T) {
			raw := mustMarshal(t, tt.rdns)
			tmpl := &x509.Certificate{
				SerialNumber: big.NewInt(int64(i + 1)),
				RawSubject:   raw,
				NotBefore:    time.Now().Add(-time.Hour),
				NotAfter:     time.Now().Add(time.Hour),
			}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
			require.NoError(t, err)
			p := filepath.Join(dir, "c.pem")
			require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
			out, err := exec.Command(openssl, "x509", "-in", p, "-noout", "-subject", "-nameopt", "compat").Output()
			require.NoError(t, err)
			want := strings.TrimSuffix(strings.TrimPrefix(string(out), "subject="), "\n")
			c, err := x509.ParseCertificate(der)
			require.NoError(t, err)
			assert.Equal(t, want, cert.NewInfo(c).SubjectLegacy)
		})
	}
}
