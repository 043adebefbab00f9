package testposture

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certsight/certsight/internal/testpki"
)

type leafSpec struct {
	cn        string
	ekus      []x509.ExtKeyUsage
	notBefore time.Time
	notAfter  time.Time
}

// newCA makes a CA certificate named name, self-signed, or signed by parent.
func newCA(t testing.TB, name pkix.Name, parent *testpki.Cert, now time.Time) *testpki.Cert {
	t.Helper()
	c, err := testpki.Issue(parent, testpki.Options{
		Subject: name, IsCA: true, NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
	})
	if err != nil {
		t.Fatalf("creating CA %s: %v", name, err)
	}
	return c
}

// newLeaf makes a leaf signed by by and returns it with its key.
func newLeaf(t testing.TB, by *testpki.Cert, s leafSpec) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	ekus := s.ekus
	if ekus == nil {
		ekus = []x509.ExtKeyUsage{} // none, not testpki's default clientAuth
	}
	c, err := by.Issue(testpki.Options{
		Subject:   pkix.Name{CommonName: s.cn, Organization: []string{"certsight tests"}},
		NotBefore: s.notBefore,
		NotAfter:  s.notAfter,
		EKU:       ekus,
	})
	if err != nil {
		t.Fatalf("creating leaf %s: %v", s.cn, err)
	}
	return c.Cert, c.Key.(*ecdsa.PrivateKey)
}

func certPEM(c *x509.Certificate) []byte { return testpki.CertPEM(c) }

func keyPEM(t testing.TB, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	b, err := testpki.KeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// encryptedKeyPEM is a legacy OpenSSL "Proc-Type: 4,ENCRYPTED" key, as
// `openssl ec -aes256` writes it. x509.EncryptPEMBlock is deprecated for
// being insecure, which does not matter for a test key that is never used.
func encryptedKeyPEM(t testing.TB, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatalf("encoding a key: %v", err)
	}
	//nolint:staticcheck // see above
	block, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", der, []byte("secret"), x509.PEMCipherAES256)
	if err != nil {
		t.Fatalf("encrypting a key: %v", err)
	}
	return pem.EncodeToMemory(block)
}

func write(t testing.TB, path string, parts ...[]byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
