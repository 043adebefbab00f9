package keychain

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/certsight/certsight/internal/testkeychain"
	"github.com/certsight/certsight/internal/testtool"
)

// FuzzParseKeychain feeds arbitrary bytes to the layout parser and every
// accessor a reader uses. Seeds: testdata/fuzz/FuzzParseKeychain (small
// synthesized files), files written by testkeychain, and the shared real keychains
// when they are present (they are not committed here; see the fixtures README).
func FuzzParseKeychain(f *testing.F) {
	c := newCert(f, "fuzz")
	h := hashOf(f, c)
	f.Add(testkeychain.Keychain{Certs: []testkeychain.Cert{{DER: c.Raw, PrintName: "fuzz", PublicKeyHash: h}}, KeyLabels: [][]byte{h}}.Bytes())
	f.Add(testkeychain.Keychain{Certs: []testkeychain.Cert{{DER: c.Raw}}, NoSchema: true}.Bytes())
	f.Add(testkeychain.Keychain{NoCertTable: true}.Bytes())
	shared := filepath.Join(testtool.RepoRoot(f), "..", "shared", "fixtures", "keychain")
	for _, name := range []string{"keychainbreaker-test.keychain-db", "dtformats-login.keychain"} {
		if b, err := os.ReadFile(filepath.Join(shared, name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		kf, err := ParseFile(data)
		if err != nil {
			if kf != nil {
				t.Fatal("file returned with an error")
			}
			return
		}
		exercise(kf)
		certs, _ := kf.Certificates()
		for _, kc := range certs {
			if c, err := x509.ParseCertificate(kc.DER); err == nil {
				if _, err := PublicKeyHash(c); err != nil {
					t.Fatalf("parsed certificate without a public-key hash: %v", err)
				}
			}
		}
	})
}
