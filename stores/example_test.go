package stores_test

import (
	"context"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/certsight/certsight/internal/testpki"
	"github.com/certsight/certsight/stores"
	"github.com/certsight/certsight/stores/pemfile"
)

// exampleDir writes what a user's certificate folder might hold: alice's
// certificate with its key, bob's certificate alone, and a PEM file cut
// short.
func exampleDir() string {
	dir, err := os.MkdirTemp("", "certsight-example")
	if err != nil {
		panic(err)
	}
	ca, err := testpki.NewRoot("Example CA")
	if err != nil {
		panic(err)
	}
	for _, cn := range []string{"alice", "bob"} {
		l, err := ca.Issue(testpki.Options{Subject: pkix.Name{CommonName: cn}})
		if err != nil {
			panic(err)
		}
		data := testpki.CertPEM(l.Cert)
		if cn == "alice" {
			key, err := testpki.KeyPEM(l.Key)
			if err != nil {
				panic(err)
			}
			data = append(data, key...)
		}
		if err := os.WriteFile(filepath.Join(dir, cn+".pem"), data, 0o600); err != nil {
			panic(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "cut.pem"), []byte("-----BEGIN CERTIFICATE-----\nMIIB"), 0o600); err != nil {
		panic(err)
	}
	return dir
}

// A reader streams a source: each certificate as an entry, each item it
// could not read as an error beside them (never instead of them). Every
// reader (pemfile, nssdb, keychain, winstore) is used the same way.
func ExampleReader() {
	dir := exampleDir()
	defer os.RemoveAll(dir)

	var r stores.Reader = pemfile.New(nil)
	for e, err := range r.Read(context.Background(), stores.Source{Path: dir, Location: stores.LocationUser}) {
		var ie *stores.ItemError
		if errors.As(err, &ie) {
			fmt.Printf("error: %s in %s\n", ie.Store, filepath.Base(ie.Path))
			continue
		}
		fmt.Printf("%s: %s, private key %s\n", e.Info.CommonName, filepath.Base(e.Path), e.Key)
	}
	// Output:
	// alice: alice.pem, private key matched
	// bob: bob.pem, private key absent
	// error: pem in cut.pem
}

// Collect gathers a stream where a slice is needed (posture sorts what it
// found, for instance).
func ExampleCollect() {
	dir := exampleDir()
	defer os.RemoveAll(dir)

	res := stores.Collect(pemfile.New(nil).Read(context.Background(), stores.Source{Path: dir}))
	fmt.Println(len(res.Entries), "entries,", len(res.Errors), "error")
	// Output: 2 entries, 1 error
}
