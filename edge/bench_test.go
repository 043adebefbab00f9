package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkMiddlewareKeepAlive measures the edge's per-request cost on a
// kept-alive connection: the connection's fields are already computed (the
// first request did it), the default rules run, client copies are swept, and
// Client-Cert and Client-Cert-Chain are set.
//
//   - typical: a browser-like request without any managed header; the
//     handler deletes what the edge set so the next iteration starts clean.
//   - spoofed: every iteration carries a Client_Cert alias and the previous
//     iteration's Client-Cert and Client-Cert-Chain, which are all deleted
//     and set again.
func BenchmarkMiddlewareKeepAlive(b *testing.B) {
	for _, tc := range []struct {
		name    string
		spoofed bool
	}{{"typical", false}, {"spoofed", true}} {
		b.Run(tc.name, func(b *testing.B) {
			p := newPKI(b)
			e, err := New(Config{Verifier: &Verifier{Roots: p.pool}})
			if err != nil {
				b.Fatal(err)
			}
			cs := &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true,
				PeerCertificates: []*x509.Certificate{p.leaf.Cert, p.inter.Cert}}
			ctx := e.ConnContext(context.Background(), nil)
			req := httptest.NewRequest(http.MethodGet, "https://app.example.com/api/v1/items", nil).WithContext(ctx)
			req.TLS = cs
			req.RemoteAddr = "192.0.2.7:50123"
			spoof := []string{"spoof"}
			req.Header = http.Header{"Accept": {"*/*"}, "User-Agent": {"bench/1"}, "Accept-Encoding": {"gzip"},
				"Accept-Language": {"en"}}
			var sink int
			h := e.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sink += len(r.Header["Client-Cert"][0]) + len(r.Header["Client-Cert-Chain"][0])
				if !tc.spoofed {
					delete(r.Header, "Client-Cert")
					delete(r.Header, "Client-Cert-Chain")
				}
			}))
			h.ServeHTTP(nil, req) // the connection's first request computes the fields
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if tc.spoofed {
					req.Header["Client_cert"] = spoof
				}
				h.ServeHTTP(nil, req)
			}
			if sink == 0 {
				b.Fatal("Client-Cert was not set")
			}
		})
	}
}
