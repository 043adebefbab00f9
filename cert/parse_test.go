package cert_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/cert"
)

// want describes what Parse should find: certificates by fixture file (their
// DER must match), keys by format ("enc" for an encrypted key), problems.
type want struct {
	certs    []string
	keys     []string
	problems int
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		file string
		want want
	}{
		{"one PEM certificate", "leaf.pem", want{certs: []string{"leaf.pem"}}},
		{"PEM chain in file order", "chain.pem", want{certs: []string{"leaf.pem", "inter.pem", "root.pem"}}},
		{"DER certificate", "leaf.der", want{certs: []string{"leaf.pem"}}},
		{"concatenated DER certificates", "chain.der", want{certs: []string{"leaf.pem", "inter.pem"}}},
		{"OpenSSL TRUSTED CERTIFICATE reads the certificate and ignores the trust settings", "trusted.pem", want{certs: []string{"root.pem"}}},
		{"certificate and key in one file", "certkey.pem", want{certs: []string{"leaf.pem"}, keys: []string{cert.FormatPKCS8}}},
		{"key before certificate in one file", "keycert-pkcs1.pem", want{certs: []string{"rsa2048.pem"}, keys: []string{cert.FormatPKCS1}}},
		{"bundle with many blocks, text around them and a CSR that is not ours", "bundle.pem", want{
			certs: []string{"leaf.pem", "inter.pem", "root.pem", "rsa2048.pem", "ed25519.pem"},
			keys:  []string{cert.FormatPKCS8, cert.FormatPKCS1, cert.FormatSEC1, cert.FormatPKCS8, "enc", "enc"},
		}},
		{"CRLF line ends, trailing spaces and text around blocks", "crlf.pem", want{certs: []string{"leaf.pem", "inter.pem"}, keys: []string{cert.FormatPKCS8}}},
		{"bad blocks among good ones are problems and hide nothing", "mixed-bad.pem", want{certs: []string{"leaf.pem", "inter.pem"}, problems: 2}},
		{"PKCS#8 RSA key", "rsa2048.key", want{keys: []string{cert.FormatPKCS8}}},
		{"PKCS#1 RSA key", "rsa2048.pkcs1.key", want{keys: []string{cert.FormatPKCS1}}},
		{"SEC1 EC key", "leaf.sec1.key", want{keys: []string{cert.FormatSEC1}}},
		{"PKCS#8 Ed25519 key", "ed25519.key", want{keys: []string{cert.FormatPKCS8}}},
		{"DER PKCS#8 key", "leaf.key.der", want{keys: []string{cert.FormatPKCS8}}},
		{"DER SEC1 key", "leaf.sec1.der", want{keys: []string{cert.FormatSEC1}}},
		{"encrypted PKCS#8 key is reported as encrypted", "enc-pkcs8.key", want{keys: []string{"enc"}}},
		{"encrypted DER PKCS#8 key is reported as encrypted", "enc-pkcs8.der", want{keys: []string{"enc"}}},
		{"legacy Proc-Type: 4,ENCRYPTED key is reported as encrypted", "enc-legacy.key", want{keys: []string{"enc"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := cert.Parse(readFixture(t, tt.file))
			require.NoError(t, err)
			checkBundle(t, b, tt.want)
		})
	}
}

func checkBundle(t *testing.T, b *cert.Bundle, w want) {
	t.Helper()
	require.Len(t, b.Certificates, len(w.certs), "certificates")
	for i, f := range w.certs {
		assert.Equal(t, fixtureCert(t, f).Raw, b.Certificates[i].Raw, "certificate %d is %s", i, f)
	}
	require.Len(t, b.Keys, len(w.keys), "keys")
	for i, f := range w.keys {
		k := b.Keys[i]
		if f == "enc" {
			assert.Equal(t, cert.Key{Encrypted: true}, k, "key %d is encrypted and nothing else is known", i)
			continue
		}
		assert.False(t, k.Encrypted, "key %d", i)
		assert.Equal(t, f, k.Format, "key %d format", i)
		assert.NotNil(t, k.Public, "key %d public half", i)
	}
	assert.Len(t, b.Problems, w.problems, "problems: %v", b.Problems)
}

func TestParseKeysBelongToTheirCertificates(t *testing.T) {
	b, err := cert.Parse(readFixture(t, "bundle.pem"))
	require.NoError(t, err)
	// bundle.pem: certs leaf, inter, root, rsa2048, ed25519; keys leaf, rsa2048, inter, ed25519.
	for ci, ki := range map[int]int{0: 0, 1: 2, 3: 1, 4: 3} {
		assert.True(t, cert.KeyMatches(b.Certificates[ci], b.Keys[ki]), "cert %d with key %d", ci, ki)
	}
	assert.False(t, cert.KeyMatches(b.Certificates[2], b.Keys[0]), "root does not match the leaf key")
}

func TestParseRejects(t *testing.T) {
	leaf := readFixture(t, "leaf.pem")
	tests := []struct {
		name      string
		in        []byte
		noContent bool // errors.Is(err, cert.ErrNoContent)
		problems  int
	}{
		{"empty input", nil, true, 0},
		{"plain text", []byte("hello, world\n"), true, 0},
		{"random bytes that look like DER", []byte{0x30, 0x03, 0x02, 0x01, 0x00}, true, 0},
		{"truncated DER certificate", readFixture(t, "leaf.der")[:200], true, 0},
		{"a BEGIN line without a block", []byte("-----BEGIN CERTIFICATE-----\nnothing else"), false, 1},
		{"truncated PEM certificate", leaf[:len(leaf)/2], false, 1},
		{"PEM certificate with invalid base64", []byte("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"), false, 1},
		{"PEM certificate whose DER is garbage", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("garbage")}), false, 1},
		{"PEM key whose DER is garbage", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{0x30, 0}}), false, 1},
		{"only blocks that are not ours", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{1}}), true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := cert.Parse(tt.in)
			require.Error(t, err)
			assert.Equal(t, tt.noContent, errors.Is(err, cert.ErrNoContent), "ErrNoContent: %v", err)
			require.NotNil(t, b)
			assert.Empty(t, b.Certificates)
			assert.Empty(t, b.Keys)
			assert.Len(t, b.Problems, tt.problems, "%v", b.Problems)
		})
	}
}

func TestParseProblemsNameTheBlock(t *testing.T) {
	b, err := cert.Parse(readFixture(t, "mixed-bad.pem"))
	require.NoError(t, err, "good blocks make the input usable")
	require.Len(t, b.Problems, 2)
	assert.Contains(t, b.Problems[0].Error(), "CERTIFICATE block")
	assert.Contains(t, b.Problems[1].Error(), "PRIVATE KEY block")
}

func TestParseAlternativeCertificateLabel(t *testing.T) {
	in := bytes.ReplaceAll(readFixture(t, "leaf.pem"), []byte("CERTIFICATE"), []byte("X509 CERTIFICATE"))
	b, err := cert.Parse(in)
	require.NoError(t, err)
	require.Len(t, b.Certificates, 1)
	assert.Equal(t, fixtureCert(t, "leaf.pem").Raw, b.Certificates[0].Raw)
}

func TestParseNeverKeepsPrivateKeys(t *testing.T) {
	b, err := cert.Parse(readFixture(t, "bundle.pem"))
	require.NoError(t, err)
	for i, k := range b.Keys {
		if k.Public == nil {
			continue
		}
		_, isSigner := k.Public.(crypto.Signer)
		assert.False(t, isSigner, "key %d holds only a public key, got %T", i, k.Public)
		assert.NotContains(t, strings.ToLower(fmt.Sprintf("%T", k.Public)), "private", "key %d", i)
	}
}

func TestParseCertificates(t *testing.T) {
	certs, err := cert.ParseCertificates(readFixture(t, "chain.pem"))
	require.NoError(t, err)
	assert.Len(t, certs, 3)

	_, err = cert.ParseCertificates(readFixture(t, "leaf.key"))
	assert.Error(t, err, "a key file holds no certificate")
	_, err = cert.ParseCertificates([]byte("nothing"))
	assert.ErrorIs(t, err, cert.ErrNoContent)
}

func TestParseDERThatContainsAPEMMarker(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "-----BEGIN CERTIFICATE-----\n"},
		NotBefore:    time.Now(), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)

	b, err := cert.Parse(der)
	require.NoError(t, err, "a DER certificate is not hidden by a PEM-looking name")
	require.Len(t, b.Certificates, 1)
	assert.Equal(t, der, b.Certificates[0].Raw)
	assert.Empty(t, b.Problems)
}

func TestParsedPublicKeyIsOpenSSLs(t *testing.T) {
	exp := loadExpected(t)
	n := 0
	for file, facts := range exp {
		want, ok := facts["pubkey_sha256"]
		if !ok {
			continue
		}
		n++
		t.Run(file, func(t *testing.T) {
			k := fixtureKey(t, file)
			spki, err := x509.MarshalPKIXPublicKey(k.Public)
			require.NoError(t, err)
			sum := sha256.Sum256(spki)
			assert.Equal(t, want, hex.EncodeToString(sum[:]), "public half equals openssl pkey -pubout")
		})
	}
	assert.GreaterOrEqual(t, n, 9, "keys recorded by make.sh")
}

func TestPEMTypes(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"none", "just text", nil},
		{"one", "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n", []string{"CERTIFICATE"}},
		{"text around, CRLF", "x\r\n-----BEGIN CERTIFICATE-----\r\nAA==\r\n-----END CERTIFICATE-----\r\ny\r\n-----BEGIN PRIVATE KEY-----\r\n", []string{"CERTIFICATE", "PRIVATE KEY"}},
		{"unreadable BEGIN line", "-----BEGIN CERTIFICATE\n", []string{""}},
		{"BEGIN at the very end", "-----BEGIN ", []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, cert.PEMTypes([]byte(tt.in)))
		})
	}
}
