package element

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	tw "github.com/certsight/certsight/internal/testwinstore"
)

// FuzzParseElement feeds arbitrary bytes to the sniffer, the element and
// store parsers and every accessor. Seeds: testdata/fuzz/FuzzParseElement
// (synthesized elements), more synthesized here, and the real elements the
// reader's testdata/real holds.
func FuzzParseElement(f *testing.F) {
	der := certDER(f, "fuzz")
	f.Add(tw.Element(tw.Prop(3, sha1Of(der)), tw.Prop(11, tw.UTF16LE("name", true)), tw.Prop(2, tw.KeyProvInfo("c", "p", 1, 0, 2)), tw.Prop(32, der)))
	f.Add(tw.Store(tw.Prop(32, der), tw.Prop(33, []byte{0x30, 0}), tw.EndMarker))
	blobs, err := filepath.Glob(filepath.Join(realDir, "*.blob"))
	if err != nil || len(blobs) == 0 {
		f.Fatalf("no real elements in %s: %v", realDir, err)
	}
	for _, p := range blobs {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		Sniff(data, 64<<20)
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
