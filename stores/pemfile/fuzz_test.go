package pemfile

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/stores"
)

// fileSep splits one fuzz input into the files of one read.
var fileSep = []byte("\n==FILE==\n")

// FuzzPairFiles feeds up to four files of arbitrary content through parsing
// and pairing, and checks pairing's promises: one entry per certificate, a
// match only where a key really matches, a mismatch or lock only where none
// does.
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
		var parsed []*parsedFile
		var keys []cert.Key
		certs := 0
		for i, p := range parts {
			pf, _ := r.parseFile(File{Path: fmt.Sprint(i), Named: i%2 == 0}, p)
			if pf == nil {
				continue
			}
			parsed = append(parsed, pf)
			certs += len(pf.certs)
			for _, k := range pf.keys {
				keys = append(keys, cert.Key{Public: k.public, Encrypted: k.encrypted})
			}
		}
		res := entries(stores.Source{Location: stores.LocationPath}, parsed)
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
		for _, pf := range parsed {
			for _, k := range pf.keys {
				if k.public != nil {
					t.Fatal("a public key was kept after pairing")
				}
			}
		}
	})
}
