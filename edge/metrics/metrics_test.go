package metrics

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/edge"
	"github.com/certsight/certsight/internal/testpki"
	"github.com/certsight/certsight/internal/testtool"
)

func TestReasonClass(t *testing.T) {
	for reason, want := range map[string]string{
		"certificate has expired":                "expired",
		"certificate is not yet valid":           "not_yet_valid",
		"unable to get local issuer certificate": "untrusted",
		"self signed certificate":                "untrusted",
		"unsupported certificate purpose":        "purpose",
		"CRL has expired":                        "revocation_unknown",
		"OCSP status unknown":                    "revocation_unknown",
		"anything a client could make up":        "other",
	} {
		assert.Equal(t, want, ReasonClass(reason), reason)
	}
}

func TestFamily(t *testing.T) {
	for name, want := range map[string]string{
		"Client-Cert": "client-cert", "client_cert_chain": "client-cert", "Cf-Client-Cert-Der-Base64": "cf-client-cert",
		"cf-cert-presented": "cf-cert", "X-CERT-VERIFY": "x-cert", "x_forwarded_client_cert": "xfcc",
		"X-Forwarded-Client-Cert": "xfcc", "X-My-Rule-Header": "rule",
	} {
		assert.Equal(t, want, Family(name), name)
	}
}

func TestOutcomesAndExposition(t *testing.T) {
	m := New()
	m.now = func() time.Time { return time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC) }
	m.outcome(edge.TLSClientAuth{}, false)
	m.outcome(edge.TLSClientAuth{CertPresented: "0", CertVerified: "NONE"}, true)
	m.outcome(edge.TLSClientAuth{CertPresented: "1", CertVerified: "SUCCESS"}, true)
	m.outcome(edge.TLSClientAuth{CertPresented: "1", CertVerified: "SUCCESS", CertRevoked: "1"}, true)
	m.outcome(edge.TLSClientAuth{CertPresented: "1", CertVerified: "FAILED:certificate has expired"}, true)
	m.Stripped("X_Forwarded_Client_Cert")
	m.Fetch("crl", "ok")
	m.Fetch("ocsp", "revoked")
	m.OriginError()
	m.Reload(true)
	m.SetIssuers(func() []IssuerStatus {
		return []IssuerStatus{
			{Issuer: "CN=Root", ThisUpdate: m.now().Add(-time.Hour), NextUpdate: m.now().Add(2 * time.Hour), Current: true},
			{Issuer: `CN=Odd\, "Name"`, ThisUpdate: m.now().Add(-48 * time.Hour), NextUpdate: m.now().Add(-time.Hour)},
			{Issuer: "CN=Covered but no CRL yet"},
		}
	})
	w := log.New(io.Discard, "", 0)
	m.ErrorLog(w).Print("http: TLS handshake error from 127.0.0.1:1: tls: client didn't provide a certificate")

	assert.Equal(t, 2.0, testutil.ToFloat64(m.none))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.verified))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.revoked))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.failed["expired"]))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.stripped["xfcc"]))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.handshakes.WithLabelValues("client_certificate")))

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`certsight_edge_requests_total{client_cert="failed",reason="expired"} 1`,
		`certsight_edge_crl_age_seconds{issuer="CN=Root"} 3600`,
		`certsight_edge_crl_next_update_seconds{issuer="CN=Root"} 7200`,
		`certsight_edge_crl_next_update_seconds{issuer="CN=Odd\\, \"Name\""} -3600`,
		`certsight_edge_crl_current{issuer="CN=Covered but no CRL yet"} 0`,
		`certsight_edge_revocation_fetches_total{kind="ocsp",result="revoked"} 1`,
		`certsight_edge_origin_errors_total 1`,
		`certsight_edge_request_duration_seconds_bucket`,
		`go_goroutines`,
	} {
		assert.Contains(t, body, want)
	}

	// promtool (Debian's prometheus package) accepts the exposition.
	promtool := testtool.Need(t, "promtool")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s", out)
}

func TestWrapCountsAfterTheHandler(t *testing.T) {
	m := New()
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.none))
	var buf bytes.Buffer
	_, err := testutil.GatherAndCount(m.reg, "certsight_edge_request_duration_seconds")
	require.NoError(t, err)
	_ = buf
}

// BenchmarkWrap is the per-request cost metrics add: the edge middleware on
// a kept-alive connection with a verified certificate, without ("edge") and
// with ("edge+metrics") the metrics wrapper. The difference is the cost.
func BenchmarkWrap(b *testing.B) {
	root, err := testpki.NewRoot("Bench Root")
	require.NoError(b, err)
	leaf, err := root.Issue(testpki.Options{})
	require.NoError(b, err)
	pool := x509.NewCertPool()
	pool.AddCert(root.Cert)
	e, err := edge.New(edge.Config{Verifier: &edge.Verifier{Roots: pool}})
	require.NoError(b, err)
	m := New()
	noop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		delete(r.Header, "Client-Cert")
		delete(r.Header, "Client-Cert-Chain")
	})
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"edge", e.Handler(noop)}, {"edge+metrics", m.Wrap(e.Handler(noop))}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := e.ConnContext(context.Background(), nil)
			req := httptest.NewRequest(http.MethodGet, "https://app.example.com/api", nil).WithContext(ctx)
			req.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true,
				PeerCertificates: []*x509.Certificate{leaf.Cert}}
			req.RemoteAddr = "192.0.2.7:50123"
			req.Header = http.Header{"Accept": {"*/*"}, "User-Agent": {"bench/1"}}
			tc.h.ServeHTTP(nil, req)
			b.ReportAllocs()
			for b.Loop() {
				tc.h.ServeHTTP(nil, req)
			}
		})
	}
	if testutil.ToFloat64(m.verified) == 0 {
		b.Fatal("no verified request counted")
	}
}
