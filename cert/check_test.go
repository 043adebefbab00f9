package cert_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/cert"
)

func TestKeyMatches(t *testing.T) {
	tests := []struct {
		name     string
		certFile string
		keyFile  string
		want     bool
	}{
		{"RSA certificate matches its PKCS#8 key", "rsa2048.pem", "rsa2048.key", true},
		{"RSA certificate matches its PKCS#1 key", "rsa2048.pem", "rsa2048.pkcs1.key", true},
		{"RSA 4096 root matches its key", "root.pem", "root.key", true},
		{"ECDSA P-256 certificate matches its PKCS#8 key", "leaf.pem", "leaf.key", true},
		{"ECDSA P-256 certificate matches its SEC1 key", "leaf.pem", "leaf.sec1.key", true},
		{"ECDSA P-256 certificate matches its DER PKCS#8 key", "leaf.pem", "leaf.key.der", true},
		{"ECDSA P-256 certificate matches its DER SEC1 key", "leaf.pem", "leaf.sec1.der", true},
		{"ECDSA P-384 certificate matches its SEC1 key", "inter.pem", "inter.key", true},
		{"Ed25519 certificate matches its key", "ed25519.pem", "ed25519.key", true},
		{"RSA certificate does not match an ECDSA key", "rsa2048.pem", "leaf.key", false},
		{"RSA certificate does not match another RSA key", "rsa2048.pem", "root.key", false},
		{"ECDSA certificate does not match another key on the same curve", "leaf.pem", "other.key", false},
		{"ECDSA certificate does not match another key on another curve", "inter.pem", "lookalike.key", false},
		{"Ed25519 certificate does not match an ECDSA key", "ed25519.pem", "leaf.key", false},
		{"look-alike CA does not match the real CA's key", "lookalike-ca.pem", "inter.key", false},
		{"encrypted PKCS#8 key never matches, it cannot be checked", "leaf.pem", "enc-pkcs8.key", false},
		{"encrypted legacy key never matches, it cannot be checked", "rsa2048.pem", "enc-legacy.key", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fixtureCert(t, tt.certFile)
			k := fixtureKey(t, tt.keyFile)
			assert.Equal(t, tt.want, cert.KeyMatches(c, k), "Key value")
			assert.Equal(t, tt.want, cert.KeyMatches(c, &k), "*Key")
			if k.Public != nil {
				assert.Equal(t, tt.want, cert.KeyMatches(c, k.Public), "bare public key")
			}
		})
	}
}

func TestKeyMatchesPrivateKeyTypes(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)

	tests := []struct {
		name string
		key  any
		pub  any
	}{
		{"*ecdsa.PrivateKey", ecKey, &ecKey.PublicKey},
		{"ed25519.PrivateKey", edKey, edKey.Public()},
		{"*rsa.PrivateKey", rsaKey, &rsaKey.PublicKey},
	}
	for _, tt := range tests {
		t.Run(tt.name+" matches a certificate holding its public key", func(t *testing.T) {
			c := &x509.Certificate{PublicKey: tt.pub}
			assert.True(t, cert.KeyMatches(c, tt.key))
			assert.False(t, cert.KeyMatches(fixtureCert(t, "leaf.pem"), tt.key))
		})
	}
}

func TestKeyMatchesNeverPanics(t *testing.T) {
	c := fixtureCert(t, "rsa2048.pem")
	for name, key := range map[string]any{
		"nil":                        nil,
		"typed nil *rsa.PrivateKey":  (*rsa.PrivateKey)(nil),
		"typed nil *ecdsa.PublicKey": (*ecdsa.PublicKey)(nil),
		"nil *cert.Key":              (*cert.Key)(nil),
		"zero cert.Key":              cert.Key{},
		"a string":                   "not a key",
		"Key with typed nil public":  cert.Key{Public: (*rsa.PublicKey)(nil)},
	} {
		assert.NotPanics(t, func() { assert.False(t, cert.KeyMatches(c, key), name) }, name)
	}
	assert.False(t, cert.KeyMatches(nil, fixtureKey(t, "rsa2048.key")), "nil certificate")
}

func TestIssuedBy(t *testing.T) {
	tests := []struct {
		name         string
		leaf, issuer string
		want         bool
	}{
		{"leaf is issued by its intermediate", "leaf.pem", "inter.pem", true},
		{"intermediate is issued by the root", "inter.pem", "root.pem", true},
		{"Ed25519 leaf is issued by its intermediate", "ed25519.pem", "inter.pem", true},
		{"RSA leaf is issued by its intermediate", "rsa2048.pem", "inter.pem", true},
		{"leaf is not issued by the root (no chain building)", "leaf.pem", "root.pem", false},
		{"leaf is not issued by a look-alike CA with the same name", "leaf.pem", "lookalike-ca.pem", false},
		{"look-alike's leaf is not issued by the real CA of the same name", "lookalike-leaf.pem", "inter.pem", false},
		{"look-alike's leaf is issued by the look-alike", "lookalike-leaf.pem", "lookalike-ca.pem", true},
		{"namesake (subject equals issuer) is issued by the root that signed it", "namesake.pem", "root.pem", true},
		{"namesake is not issued by itself", "namesake.pem", "namesake.pem", false},
		{"a SHA-1 signature does not count as issuance", "sha1-leaf.pem", "inter.pem", false},
		{"nor does a SHA-1 self-signature", "sha1-selfsigned.pem", "sha1-selfsigned.pem", false},
		{"a certificate is not its own issuer unless self-signed", "leaf.pem", "leaf.pem", false},
		{"a self-signed root is its own issuer", "root.pem", "root.pem", true},
		{"expired certificate's signature still verifies", "expired.pem", "inter.pem", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, cert.IssuedBy(fixtureCert(t, tt.leaf), fixtureCert(t, tt.issuer)))
		})
	}
	assert.False(t, cert.IssuedBy(nil, fixtureCert(t, "root.pem")))
	assert.False(t, cert.IssuedBy(fixtureCert(t, "root.pem"), nil))
}

func TestSelfSignedNeedsSelfIssued(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	now := time.Now()
	parent := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "some other issuer"}}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "leaf"}, NotBefore: now, NotAfter: now.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, key)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	require.True(t, cert.IssuedBy(c, c), "fixture: its own key verifies the signature")
	assert.False(t, cert.NewInfo(c).SelfSigned, "signed by its own key under another issuer name is not self-issued, so not self-signed")
}
