package winstore

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/certsight/certsight/stores"
)

func BenchmarkParseElement(b *testing.B) {
	der := newCert(b, "bench").Raw
	data := element(prop(3, sha1Bytes(der)), prop(11, utf16le("bench", true)), prop(2, keyProvInfo("c", "p", 1, 0, 2)), prop(32, der))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		el, err := ParseElement(data)
		if err != nil || el.Certificate() == nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadDir100 reads a My\Certificates folder of 100 element files.
func BenchmarkReadDir100(b *testing.B) {
	dir := b.TempDir()
	for range 100 {
		der := newCert(b, "bench").Raw
		if err := os.WriteFile(filepath.Join(dir, thumb(der)), element(prop(3, sha1Bytes(der)), prop(32, der)), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	r := New(nil)
	for b.Loop() {
		if res := stores.Collect(r.Read(context.Background(), stores.Source{Path: dir})); len(res.Entries) != 100 || len(res.Errors) != 0 {
			b.Fatal("wrong result")
		}
	}
}
