package testtool

import (
	"math/big"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testpki"
)

func TestIndexSerial(t *testing.T) {
	cases := []struct {
		serial int64
		want   string
	}{
		{0x1, "01"},
		{0xABC, "0ABC"},
		{0x1000, "1000"},
		{0xfedcba, "FEDCBA"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, indexSerial(big.NewInt(tc.serial)))
	}
}

// TestOCSPResponder asks the responder with openssl's own client about a
// good, a revoked and an unlisted serial (odd-length ones among them).
func TestOCSPResponder(t *testing.T) {
	openssl := Need(t, "openssl")
	dir := t.TempDir()
	ca, err := testpki.NewRoot("testtool OCSP CA")
	require.NoError(t, err)
	caPEM := filepath.Join(dir, "ca.pem")
	require.NoError(t, testpki.WriteFile(caPEM, testpki.CertPEM(ca.Cert)))
	key, err := testpki.KeyPEM(ca.Key)
	require.NoError(t, err)
	keyPEM := filepath.Join(dir, "ca.key")
	require.NoError(t, testpki.WriteFile(keyPEM, key))

	good, revoked, unlisted := big.NewInt(0xABC), big.NewInt(0x12345), big.NewInt(0x42)
	index := OCSPIndex(t, filepath.Join(dir, "index.txt"), OCSPEntry{Serial: good}, OCSPEntry{Serial: revoked, Revoked: true})
	url := OCSPResponder(t, index, caPEM, caPEM, keyPEM, 0)

	cases := []struct {
		name   string
		serial *big.Int
		want   string
	}{
		{"good", good, ": good"},
		{"revoked", revoked, ": revoked"},
		{"unlisted", unlisted, ": unknown"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(openssl, "ocsp", "-issuer", caPEM, "-serial", "0x"+tc.serial.Text(16),
				"-url", url, "-CAfile", caPEM, "-no_nonce").CombinedOutput()
			require.NoError(t, err, "%s", out)
			assert.Contains(t, string(out), tc.want)
		})
	}
}
