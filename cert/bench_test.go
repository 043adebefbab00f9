package cert_test

import (
	"testing"

	"github.com/certsight/certsight/cert"
)

// BenchmarkParse reads a PEM bundle of five certificates and six keys.
func BenchmarkParse(b *testing.B) {
	data := readFixture(b, "bundle.pem")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cert.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewInfo derives every fact of the ECDSA leaf, including the
// self-signed check (one signature verification).
func BenchmarkNewInfo(b *testing.B) {
	c := fixtureCert(b, "leaf.pem")
	b.ReportAllocs()
	for b.Loop() {
		_ = cert.NewInfo(c)
	}
}

func BenchmarkEncodeClientCert(b *testing.B) {
	der := fixtureCert(b, "leaf.pem").Raw
	b.SetBytes(int64(len(der)))
	b.ReportAllocs()
	for b.Loop() {
		_ = cert.EncodeClientCert(der)
	}
}

// BenchmarkParseClientCertChain parses an intermediate and a root.
func BenchmarkParseClientCertChain(b *testing.B) {
	v := cert.EncodeClientCertChain([][]byte{fixtureCert(b, "inter.pem").Raw, fixtureCert(b, "root.pem").Raw})
	b.SetBytes(int64(len(v)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cert.ParseClientCertChain(v); err != nil {
			b.Fatal(err)
		}
	}
}
