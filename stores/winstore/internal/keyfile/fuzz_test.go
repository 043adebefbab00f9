package keyfile

import (
	"crypto/rsa"
	"math/big"
	"os"
	"path/filepath"
	"testing"
)

// FuzzKeyFiles feeds arbitrary bytes to both key file parsers and the
// public key decoders they lead to. Seeds: the synthesized key files of
// testdata/synth and testdata/fuzz/FuzzKeyFiles.
func FuzzKeyFiles(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "synth", "*.key"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no synthesized key files: %v", err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := ParseCAPI(data); err == nil {
			for _, spec := range []uint32{1, 2} {
				pair, _ := c.Pair(spec)
				if pub, err := ParseCAPIPublicKey(pair.Public); err == nil && (pub.N.Sign() <= 0 || pub.E < 3) {
					t.Fatalf("accepted public key with N=%v E=%d", pub.N, pub.E)
				}
			}
		}
		if k, err := ParseCNG(data); err == nil {
			_, _ = k.PublicKey()
		}
		_, _ = ParseBCryptPublicKey(data)
		if ok, _ := CNGPrivateBelongs(data, &rsa.PublicKey{N: big.NewInt(1), E: 3}); ok {
			t.Fatal("a CNG private key belongs to modulus 1")
		}
		if k, err := ParseCAPIPrivateKey(data); err == nil && k.Belongs(&rsa.PublicKey{N: big.NewInt(1), E: 3}) {
			t.Fatal("a private key belongs to modulus 1")
		}
		_, _ = CAPIFileHash(string(data))
		_, _ = CNGFileHash(string(data))
	})
}
