package edge

import (
	"errors"
	"net/http"
	"testing"
)

// FuzzClientCertFromHeaders feeds arbitrary Client-Cert and Client-Cert-Chain
// values to the origin-side parser: it must return a certificate or an
// error, never panic, and never both a certificate and an error.
func FuzzClientCertFromHeaders(f *testing.F) {
	f.Add(":MIIB:", "", false)
	f.Add("", ":AAAA:", false)
	f.Add(":Zm9v:", ":Zm9v:, :YmFy:", true)
	f.Fuzz(func(t *testing.T, leaf, chain string, twice bool) {
		h := http.Header{}
		if leaf != "" {
			h["Client-Cert"] = []string{leaf}
			if twice {
				h["Client-Cert"] = append(h["Client-Cert"], leaf)
			}
		}
		if chain != "" {
			h["Client-Cert-Chain"] = []string{chain}
		}
		c, ch, err := ClientCertFromHeaders(h)
		if err != nil {
			if c != nil || ch != nil {
				t.Fatalf("certificate and error together: %v", err)
			}
			if !errors.Is(err, ErrNoClientCert) && !errors.Is(err, ErrMalformedClientCert) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if c == nil {
			t.Fatal("no error and no certificate")
		}
		if twice {
			t.Fatal("a repeated Client-Cert was accepted")
		}
	})
}
