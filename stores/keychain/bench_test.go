package keychain

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/certsight/certsight/internal/testkeychain"
	"github.com/certsight/certsight/stores"
	"github.com/certsight/certsight/stores/keychain/internal/kcfile"
)

// benchKeychain writes a keychain of n certificates, every other one with a key.
func benchKeychain(b *testing.B, n int) []byte {
	kc := testkeychain.Keychain{}
	for i := range n {
		c := newCert(b, fmt.Sprintf("bench %d", i))
		h := hashOf(b, c)
		kc.Certs = append(kc.Certs, testkeychain.Cert{DER: c.Raw, PrintName: c.Subject.CommonName, PublicKeyHash: h})
		if i%2 == 0 {
			kc.KeyLabels = append(kc.KeyLabels, h)
		}
	}
	return kc.Bytes()
}

func BenchmarkParseFile(b *testing.B) {
	data := benchKeychain(b, 100)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		f, err := kcfile.ParseFile(data)
		if err != nil {
			b.Fatal(err)
		}
		if c, _ := f.Certificates(); len(c) != 100 {
			b.Fatal("wrong count")
		}
	}
}

func BenchmarkRead100(b *testing.B) {
	p := filepath.Join(b.TempDir(), "bench.keychain-db")
	if err := os.WriteFile(p, benchKeychain(b, 100), 0o600); err != nil {
		b.Fatal(err)
	}
	r := New(nil)
	for b.Loop() {
		if res := stores.Collect(r.Read(context.Background(), stores.Source{Path: p})); len(res.Entries) != 100 {
			b.Fatal("wrong count")
		}
	}
}
