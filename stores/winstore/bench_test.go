package winstore

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	tw "github.com/certsight/certsight/internal/testwinstore"
	"github.com/certsight/certsight/stores"
)

// BenchmarkReadDir100 reads a My\Certificates folder of 100 element files.
func BenchmarkReadDir100(b *testing.B) {
	dir := b.TempDir()
	for range 100 {
		der := newCert(b, "bench").Raw
		if err := os.WriteFile(filepath.Join(dir, thumb(der)), tw.Element(tw.Prop(3, sha1Bytes(der)), tw.Prop(32, der)), 0o600); err != nil {
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
