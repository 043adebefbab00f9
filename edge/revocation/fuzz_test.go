package revocation

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/certsight/certsight/internal/testpki"
)

// FuzzOffer feeds arbitrary file contents through the CRL file reader and
// the store's acceptance rules: no panic, and nothing but an accepted CRL
// changes the generation.
func FuzzOffer(f *testing.F) {
	f.Add([]byte("-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n"))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	root, err := testpki.NewRoot("Fuzz Root CA")
	if err != nil {
		f.Fatal(err)
	}
	if der, err := root.CurrentCRL(root.Cert.SerialNumber); err == nil {
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewStore(Options{Issuers: []*x509.Certificate{root.Cert}})
		ders, err := SplitCRLs(data)
		if err != nil {
			return
		}
		for _, der := range ders {
			gen := s.Generation()
			ok, err := s.Offer(der, "fuzz")
			if (ok && err != nil) || (ok != (s.Generation() != gen)) {
				t.Fatalf("ok=%v err=%v generation %d→%d", ok, err, gen, s.Generation())
			}
		}
		s.Check([]*x509.Certificate{root.Cert, root.Cert}, time.Now())
		s.Statuses()
	})
}

// FuzzCanonicalName: arbitrary DER names never panic, and the canonical form
// of a name is stable.
func FuzzCanonicalName(f *testing.F) {
	root, err := testpki.NewRoot("Fuzz Root CA")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(root.Cert.RawSubject)
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		a, err := CanonicalName(der)
		if err != nil {
			return
		}
		b, _ := CanonicalName(der)
		if a != b {
			t.Fatalf("unstable: %q vs %q", a, b)
		}
	})
}
