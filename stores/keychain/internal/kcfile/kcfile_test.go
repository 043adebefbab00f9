package kcfile

import (
	"crypto/x509"
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testkeychain"
	"github.com/certsight/certsight/internal/testpki"
)

// Real keychains made by macOS, kept beside the reader (provenance in its
// testdata/real/README.md); the reader's tests check them field by field,
// here they seed the fuzzer.
var (
	realKeychain    = filepath.Join("..", "..", "testdata", "real", "keychainbreaker-test.keychain-db")
	realNoCertTable = filepath.Join("..", "..", "testdata", "real", "dtformats-login.keychain")
)

func newCert(t testing.TB, cn string) *x509.Certificate {
	t.Helper()
	c, err := testpki.SelfSigned(cn)
	require.NoError(t, err)
	return c.Cert
}

func hashOf(t testing.TB, c *x509.Certificate) []byte {
	t.Helper()
	h, err := PublicKeyHash(c)
	require.NoError(t, err)
	return h
}

// exercise calls every accessor of a parsed file, as a reader would.
func exercise(f *File) {
	for _, t := range f.Tables {
		for _, r := range t.Records {
			for _, a := range t.Attributes {
				_, _ = r.Values(a.ID)
			}
		}
	}
	_, _ = f.Certificates()
	_, _ = f.PrivateKeyLabels()
}

func TestOverlappingRecordsAreRefused(t *testing.T) {
	a, b := newCert(t, "a"), newCert(t, "b")
	data, lay := testkeychain.Keychain{Certs: []testkeychain.Cert{{DER: a.Raw}, {DER: b.Raw}}}.Build()
	ct := lay.Tables[len(lay.Tables)-1]
	require.Equal(t, TableX509Certificate, ct.ID)
	// Point the second slot at the first record.
	binary.BigEndian.PutUint32(data[ct.Offset+28+4:], uint32(ct.Records[0].Offset-ct.Offset))
	f, err := ParseFile(data)
	require.NoError(t, err)
	require.Len(t, f.Problems, 1)
	assert.Contains(t, f.Problems[0].Error(), "overlaps")
	certs, errs := f.Certificates()
	assert.Empty(t, errs)
	require.Len(t, certs, 1)
	assert.Equal(t, a.Raw, certs[0].DER)
}
