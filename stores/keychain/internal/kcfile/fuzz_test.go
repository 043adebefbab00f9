package kcfile

import (
	"crypto/x509"
	"os"
	"testing"

	"github.com/certsight/certsight/internal/testkeychain"
)

// FuzzParseKeychain feeds arbitrary bytes to the layout parser and every
// accessor a reader uses. Seeds: testdata/fuzz/FuzzParseKeychain (small
// synthesized files), files written by testkeychain, and the real keychains in
// testdata/real.
func FuzzParseKeychain(f *testing.F) {
	c := newCert(f, "fuzz")
	h := hashOf(f, c)
	f.Add(testkeychain.Keychain{Certs: []testkeychain.Cert{{DER: c.Raw, PrintName: "fuzz", PublicKeyHash: h}}, KeyLabels: [][]byte{h}}.Bytes())
	f.Add(testkeychain.Keychain{Certs: []testkeychain.Cert{{DER: c.Raw}}, NoSchema: true}.Bytes())
	f.Add(testkeychain.Keychain{NoCertTable: true}.Bytes())
	f.Add(craftRepeats(f, c.Raw, 50, 50)) // offsets that repeat: parsed once
	for _, name := range []string{realKeychain, realNoCertTable} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
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
