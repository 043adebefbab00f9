package edge_test

import (
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// opensslCA signs CRLs with `openssl ca -gencrl`, the way CAs run by hand
// make them, for a CA certificate and key on disk.
type opensslCA struct {
	dir            string
	certPEM, keyPE string
}

func needOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CERTSIGHT_REQUIRE_TOOLS") == "1" {
			t.Fatal("openssl not found and CERTSIGHT_REQUIRE_TOOLS=1")
		}
		t.Skip("SKIP: openssl not found")
	}
}

func newOpenSSLCA(t *testing.T, certPEM, keyPEM string) *opensslCA {
	t.Helper()
	needOpenSSL(t)
	return &opensslCA{dir: t.TempDir(), certPEM: certPEM, keyPE: keyPEM}
}

// crlOpts describe one CRL: its number, validity window and revoked serials.
type crlOpts struct {
	number     int64
	lastUpdate time.Time // zero: now
	nextUpdate time.Time // zero: lastUpdate + 1 day
	revoked    []*big.Int
	reason     string // CRL reason for every entry, e.g. "keyCompromise", "certificateHold"
	der        bool
}

func opensslTime(t time.Time) string { return t.UTC().Format("20060102150405Z") }

// crl makes a CRL and returns its bytes (PEM unless o.der).
func (ca *opensslCA) crl(t *testing.T, o crlOpts) []byte {
	t.Helper()
	dir, err := os.MkdirTemp(ca.dir, "crl")
	require.NoError(t, err)
	var index strings.Builder
	for _, s := range o.revoked {
		rev := time.Now().Add(-2 * time.Hour).UTC().Format("060102150405Z")
		if o.reason != "" {
			rev += "," + o.reason
		}
		hex := strings.ToUpper(s.Text(16))
		if len(hex)%2 == 1 {
			hex = "0" + hex
		}
		fmt.Fprintf(&index, "R\t%s\t%s\t%s\tunknown\t/CN=revoked\n", time.Now().Add(24*time.Hour).UTC().Format("060102150405Z"), rev, hex)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.txt"), []byte(index.String()), 0o600))
	number := o.number
	if number == 0 {
		number = 1
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "crlnumber"), []byte(fmt.Sprintf("%02X\n", number)), 0o600))
	cnf := "[ca]\ndefault_ca = d\n[d]\ndatabase = " + filepath.Join(dir, "index.txt") + "\ncrlnumber = " +
		filepath.Join(dir, "crlnumber") + "\ndefault_md = sha256\ndefault_crl_days = 1\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ca.cnf"), []byte(cnf), 0o600))
	last := o.lastUpdate
	if last.IsZero() {
		last = time.Now().Add(-time.Minute)
	}
	next := o.nextUpdate
	if next.IsZero() {
		next = last.Add(24 * time.Hour)
	}
	out := filepath.Join(dir, "crl.pem")
	cmd := exec.Command("openssl", "ca", "-gencrl", "-batch", "-config", filepath.Join(dir, "ca.cnf"),
		"-cert", ca.certPEM, "-keyfile", ca.keyPE, "-out", out,
		"-crl_lastupdate", opensslTime(last), "-crl_nextupdate", opensslTime(next))
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "openssl ca -gencrl: %s", b)
	if o.der {
		der := out + ".der"
		b, err := exec.Command("openssl", "crl", "-in", out, "-outform", "DER", "-out", der).CombinedOutput()
		require.NoError(t, err, "openssl crl: %s", b)
		out = der
	}
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	return data
}
