package cert_test

import (
	"bytes"
	"testing"

	"github.com/certsight/certsight/cert"
)

// The seed corpora live in testdata/fuzz/<Target>/ (made from the OpenSSL
// fixtures); `go test` replays them on every run.

// FuzzParse: any input gives a Bundle or an error, never a panic, and every
// certificate found can be described.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := cert.Parse(data)
		if b == nil {
			t.Fatal("Parse returned a nil Bundle")
		}
		if err == nil && len(b.Certificates) == 0 && len(b.Keys) == 0 {
			t.Fatal("no error but nothing found")
		}
		for _, c := range b.Certificates {
			info := cert.NewInfo(c)
			if info.SHA256 == "" || info.Serial == "" {
				t.Fatalf("certificate without fingerprint or serial: %+v", info)
			}
		}
		for _, k := range b.Keys {
			if k.Encrypted != (k.Public == nil) {
				t.Fatalf("key %+v: public half must be present exactly when not encrypted", k)
			}
			for _, c := range b.Certificates {
				cert.KeyMatches(c, k)
			}
		}
	})
}

// FuzzParseClientCert: whatever parses re-encodes canonically and parses to
// the same bytes.
func FuzzParseClientCert(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string) {
		der, err := cert.ParseClientCert(v)
		if err != nil {
			if der != nil {
				t.Fatal("bytes returned with an error")
			}
			return
		}
		if len(der) == 0 {
			t.Fatal("empty byte sequence accepted")
		}
		back, err := cert.ParseClientCert(cert.EncodeClientCert(der))
		if err != nil || !bytes.Equal(back, der) {
			t.Fatalf("re-encoding does not round trip: %v", err)
		}
	})
}

// FuzzParseClientCertChain: as FuzzParseClientCert, for lists.
func FuzzParseClientCertChain(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string) {
		ders, err := cert.ParseClientCertChain(v)
		if err != nil {
			if ders != nil {
				t.Fatal("members returned with an error")
			}
			return
		}
		if len(ders) == 0 {
			t.Fatal("empty list accepted")
		}
		back, err := cert.ParseClientCertChain(cert.EncodeClientCertChain(ders))
		if err != nil || len(back) != len(ders) {
			t.Fatalf("re-encoding does not round trip: %v", err)
		}
		for i := range ders {
			if len(ders[i]) == 0 || !bytes.Equal(back[i], ders[i]) {
				t.Fatalf("member %d does not round trip", i)
			}
		}
	})
}

// FuzzClientCertRoundTrip: Encode then Parse gives the bytes back, for one
// value and for a chain cut from the same bytes.
func FuzzClientCertRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, der []byte, cut uint8) {
		if len(der) == 0 {
			if cert.EncodeClientCertChain(nil) != "" {
				t.Fatal("empty chain must encode as empty")
			}
			return
		}
		got, err := cert.ParseClientCert(cert.EncodeClientCert(der))
		if err != nil || !bytes.Equal(got, der) {
			t.Fatalf("Client-Cert round trip: %v", err)
		}
		members := [][]byte{der}
		if n := int(cut) % len(der); n > 0 {
			members = [][]byte{der[:n], der[n:]}
		}
		chain, err := cert.ParseClientCertChain(cert.EncodeClientCertChain(members))
		if err != nil || len(chain) != len(members) {
			t.Fatalf("Client-Cert-Chain round trip: %v", err)
		}
		for i := range members {
			if !bytes.Equal(chain[i], members[i]) {
				t.Fatalf("member %d differs", i)
			}
		}
	})
}

// FuzzLegacyDN: never panics, and the output is printable ASCII whatever the
// name holds, so it cannot smuggle control bytes into a header.
func FuzzLegacyDN(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		s := cert.LegacyDN(raw)
		for i := 0; i < len(s); i++ {
			if s[i] < ' ' || s[i] > '~' {
				t.Fatalf("byte %#x at %d in %q", s[i], i, s)
			}
		}
		if s != "" && s[0] != '/' {
			t.Fatalf("%q does not start with /", s)
		}
	})
}
