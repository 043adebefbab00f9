package pemfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/stores"
)

// fileSep splits one fuzz input into the files of one read.
var fileSep = []byte("\n==FILE==\n")

// FuzzPairFiles feeds up to four files of arbitrary content through parsing,
// fingerprint pairing and the second read, and checks pairing's promises
// against cert.KeyMatches: one entry per certificate, a match only where a
// key really matches, a mismatch or lock only where none does.
func FuzzPairFiles(f *testing.F) {
	for _, set := range [][]string{
		{"combined.pem"}, {"pair/client.pem", "pair/client_key.pem"}, {"wrongkey.pem"},
		{"locked/client.pem", "locked/client_key.pem"}, {"chain-with-key.pem", "client1.der"},
		{"client1.der", "pair/client_key.pem"}, {"encrypted.pem", "ec-combined.pem"},
	} {
		var parts [][]byte
		for _, rel := range set {
			data, err := os.ReadFile(fx(rel))
			if err != nil {
				f.Fatal(err)
			}
			parts = append(parts, data)
		}
		f.Add(bytes.Join(parts, fileSep))
	}
	r := New(nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		parts := bytes.SplitN(data, fileSep, 4)
		var files []File
		contents := map[string][]byte{}
		var keys []cert.Key
		certs := 0
		for i, p := range parts {
			file := File{Path: fmt.Sprint(i), Named: i%2 == 0}
			files = append(files, file)
			contents[file.Path] = p
			if b, err := cert.Parse(p); b != nil && !errors.Is(err, cert.ErrNoContent) {
				certs += len(b.Certificates)
				keys = append(keys, b.Keys...)
			}
		}
		load := func(f File) ([]byte, error) { return contents[f.Path], nil }
		var res stores.Result
		res = stores.Collect(stores.Stream(func(fn func(stores.Entry) error) []error {
			return r.readSet(context.Background(), stores.Source{Location: stores.LocationPath}, files, load, fn)
		}))
		if len(res.Entries) != certs {
			t.Fatalf("%d entries for %d certificates", len(res.Entries), certs)
		}
		for _, e := range res.Entries {
			matches := false
			for _, k := range keys {
				matches = matches || cert.KeyMatches(e.Certificate, k)
			}
			switch e.Key {
			case stores.KeyMatched:
				if !matches {
					t.Fatalf("%s matched without a matching key", e.Info.Subject)
				}
			case stores.KeyMismatch, stores.KeyLocked:
				if matches {
					t.Fatalf("%s is %s though a key matches it", e.Info.Subject, e.Key)
				}
				if e.KeyNote == "" {
					t.Fatalf("%s is %s without a note", e.Info.Subject, e.Key)
				}
			case stores.KeyAbsent:
				if matches {
					t.Fatalf("%s has no key though one matches it", e.Info.Subject)
				}
			default:
				t.Fatalf("unexpected key state %s", e.Key)
			}
		}
	})
}
