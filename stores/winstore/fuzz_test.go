package winstore

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseElement feeds arbitrary bytes to the sniffer, the element and
// store parsers and every accessor. Seeds: testdata/fuzz/FuzzParseElement
// (synthesized elements), more synthesized here, and the real elements in
// testdata/real.
func FuzzParseElement(f *testing.F) {
	der := newCert(f, "fuzz").Raw
	f.Add(element(prop(3, sha1Bytes(der)), prop(11, utf16le("name", true)), prop(2, keyProvInfo("c", "p", 1, 0, 2)), prop(32, der)))
	f.Add(append(append([]byte(nil), storeHeader...), element(prop(32, der), prop(33, []byte{0x30, 0}), make([]byte, 12))...))
	blobs, err := filepath.Glob(filepath.Join("testdata", "real", "*.blob"))
	if err != nil || len(blobs) == 0 {
		f.Fatalf("no real elements in testdata/real: %v", err)
	}
	for _, p := range blobs {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		Sniff(data)
		var els []*Element
		if IsStore(data) {
			els, _ = ParseStore(data)
		} else if el, err := ParseElement(data); err == nil {
			if len(el.Properties) == 0 {
				t.Fatal("element without properties accepted")
			}
			els = append(els, el)
		}
		for _, el := range els {
			_, _ = el.FriendlyName()
			_, _ = el.KeyProvInfo()
			if c := el.Certificate(); c != nil {
				_, _ = x509.ParseCertificate(c)
			}
		}
	})
}
