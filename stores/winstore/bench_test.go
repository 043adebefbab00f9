package winstore

import (
	"context"
	"fmt"
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

// BenchmarkReadLinkedKeys100 reads 100 elements that link a CAPI key whose
// container file sits in a key folder of 2,000 files (orphaned containers
// pile up there): each link costs a folder listing and one file read.
func BenchmarkReadLinkedKeys100(b *testing.B) {
	root := b.TempDir()
	my := filepath.Join(root, "Users", "u", "AppData", "Roaming", "Microsoft", "SystemCertificates", "My", "Certificates")
	keys := filepath.Join(root, "Users", "u", "AppData", "Roaming", "Microsoft", "Crypto", "RSA", "S-1-5-21-1")
	for _, d := range []string{my, keys} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	capi, err := os.ReadFile(filepath.Join("internal", "keyfile", "testdata", "synth", "capi-exchange.key"))
	if err != nil {
		b.Fatal(err)
	}
	for i := range 2000 {
		if err := os.WriteFile(filepath.Join(keys, fmt.Sprintf("%032x_0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", i)), capi, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 100 {
		der := newCert(b, "bench").Raw
		kpi := tw.KeyProvInfo(fmt.Sprintf("container-%d", i), "Microsoft Enhanced RSA and AES Cryptographic Provider", 24, 0, 1)
		if err := os.WriteFile(filepath.Join(my, thumb(der)), tw.Element(tw.Prop(2, kpi), tw.Prop(32, der)), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	r := New(nil)
	for b.Loop() {
		res := stores.Collect(r.Read(context.Background(), stores.Source{Path: my, SID: "S-1-5-21-1"}))
		if len(res.Entries) != 100 || len(res.Errors) != 0 || res.Entries[0].Key != stores.KeyAbsent {
			b.Fatal("wrong result")
		}
	}
}
