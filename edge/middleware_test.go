package edge

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/internal/testpki"
)

// seen is what a handler behind the middleware observed.
type seen struct {
	Header http.Header
	View   TLSClientAuth
	HasVw  bool
	Info   string // pointer identity of the connection's cached fields
	AtTLS  bool   // the chain was verified during the handshake (VerifyConnection)
}

// startEdge serves h behind the edge on a real TLS listener and returns its
// URL and a client presenting the leaf and intermediate.
func startEdge(t *testing.T, p *pki, cfg Config, mode ClientAuth, h http.Handler, h2 bool) (string, *http.Client) {
	t.Helper()
	if cfg.Verifier == nil {
		cfg.Verifier = &Verifier{Roots: p.pool}
	}
	e, err := New(cfg)
	require.NoError(t, err)
	srvCert, err := p.root.ServerCert()
	require.NoError(t, err)
	tlsCfg, err := e.TLSConfig(&tls.Config{Certificates: []tls.Certificate{{
		Certificate: [][]byte{srvCert.Cert.Raw}, PrivateKey: srvCert.Key}}}, mode)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: e.Handler(h), ConnContext: e.ConnContext}
	go srv.Serve(e.Listener(ln, tlsCfg))
	t.Cleanup(func() { srv.Close() })

	tr := &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: p.pool,
		Certificates: []tls.Certificate{{
			Certificate: [][]byte{p.leaf.Cert.Raw, p.inter.Cert.Raw}, PrivateKey: p.leaf.Key}},
	}, ForceAttemptHTTP2: h2}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return "https://" + ln.Addr().String(), &http.Client{Transport: tr}
}

func recorder() (http.Handler, func() []seen) {
	var mu sync.Mutex
	var all []seen
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v, ok := TLSClientAuthFrom(r.Context())
			s := seen{Header: r.Header.Clone(), View: v, HasVw: ok}
			if st, _ := r.Context().Value(connKey{}).(*connState); st != nil {
				s.Info = fmt.Sprintf("%p", st.info.Load())
				s.AtTLS = st.verified.Load() != nil
			}
			mu.Lock()
			all = append(all, s)
			mu.Unlock()
		}), func() []seen {
			mu.Lock()
			defer mu.Unlock()
			return append([]seen(nil), all...)
		}
}

func get(t *testing.T, c *http.Client, u string, hdr http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestMiddlewareComputesOncePerConnection(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		name := map[bool]string{false: "HTTP/1.1 keep-alive", true: "HTTP/2 streams"}[h2]
		t.Run(name, func(t *testing.T) {
			p := newPKI(t)
			h, got := recorder()
			u, c := startEdge(t, p, Config{}, VerifyIfGiven, h, h2)
			spoof := http.Header{"Client-Cert": {":Zm9v:"}, "Client_cert": {":Zm9v:"}}
			for range 5 {
				get(t, c, u, spoof)
			}
			all := got()
			require.Len(t, all, 5)
			want := cert.EncodeClientCert(p.leaf.Cert.Raw)
			for _, s := range all {
				assert.Equal(t, []string{want}, s.Header["Client-Cert"])
				assert.Equal(t, []string{cert.EncodeClientCert(p.inter.Cert.Raw)}, s.Header["Client-Cert-Chain"])
				assert.NotContains(t, s.Header, "Client_cert")
				assert.True(t, s.HasVw)
				assert.Equal(t, "SUCCESS", s.View.CertVerified)
				assert.NotContains(t, []string{"", "0x0"}, s.Info, "the connection cache is in the request context")
				assert.True(t, s.AtTLS, "verified once, at the handshake")
				assert.Equal(t, all[0].Info, s.Info, "one cached field set per connection")
			}
		})
	}
}

func TestMiddlewarePresetsAndLegacy(t *testing.T) {
	p := newPKI(t)
	h, got := recorder()
	u, c := startEdge(t, p, Config{ManagedTransform: true, WorkersHeaders: true, Legacy: LegacyFirstRequest}, Request, h, false)
	spoof := http.Header{"X-Cert-Verify": {"SUCCESS"}, "Cf-Cert-Verified": {"true"}, "Cf-Client-Cert-Sha256": {"00"}, "X_cert_serial": {"1"}}
	get(t, c, u, spoof)
	get(t, c, u, spoof)
	all := got()
	require.Len(t, all, 2)
	first, second := all[0].Header, all[1].Header
	info := cert.NewInfo(p.leaf.Cert)
	for _, hd := range []http.Header{first, second} {
		assert.Equal(t, "SUCCESS", hd.Get("X-Cert-Verify"))
		assert.Equal(t, info.Subject, hd.Get("X-Cert-Subject-Dn"))
		assert.Equal(t, info.IssuerLegacy, hd.Get("X-Cert-Issuer-Dn-L"))
		assert.Equal(t, info.SHA1, hd.Get("X-Cert-Finger"))
		assert.Equal(t, info.Serial, hd.Get("X-Cert-Serial"))
		assert.NotContains(t, hd, "X_cert_serial")
		assert.Equal(t, "true", hd.Get("Cf-Cert-Verified"))
		assert.Equal(t, info.SHA256, hd.Get("Cf-Cert-Fingerprint-Sha256"))
		assert.Equal(t, info.SubjectLegacy, hd.Get("Cf-Cert-Subject-Dn-Legacy"))
		n := 0
		for k := range hd {
			if strings.HasPrefix(k, "X-Cert-") {
				n++
			}
		}
		assert.Equal(t, 10, n, "exactly the nine X-CERT-* headers and X-Cert-Revoked")
		assert.Equal(t, "0", hd.Get("X-Cert-Revoked"))
	}
	assert.Equal(t, info.SHA256, first.Get(HeaderLegacySHA256))
	der, err := x509.ParseCertificate(mustB64(t, first.Get(HeaderLegacyDER)))
	require.NoError(t, err)
	assert.Equal(t, p.leaf.Cert.Raw, der.Raw)
	assert.Empty(t, second.Values(HeaderLegacySHA256), "first-request mode: not on the second request")
	assert.Empty(t, second.Values(HeaderLegacyDER))
}

func TestMiddlewareWithoutConnContext(t *testing.T) {
	p := newPKI(t)
	h, got := recorder()
	_, mw, err := Middleware(Config{Verifier: &Verifier{Roots: p.pool}})
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(mw(h))
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	defer srv.Close()
	tr := srv.Client().Transport.(*http.Transport)
	tr.TLSClientConfig.Certificates = []tls.Certificate{{Certificate: [][]byte{p.leaf.Cert.Raw, p.inter.Cert.Raw}, PrivateKey: p.leaf.Key}}
	get(t, srv.Client(), srv.URL, http.Header{"Client.Cert": {"x"}})
	all := got()
	require.Len(t, all, 1)
	assert.True(t, all[0].HasVw)
	assert.Equal(t, cert.EncodeClientCert(p.leaf.Cert.Raw), all[0].Header.Get("Client-Cert"))
	assert.NotContains(t, all[0].Header, "Client.Cert")
}

func TestRequireAndVerifyAbortsHandshake(t *testing.T) {
	p := newPKI(t)
	h, _ := recorder()
	u, c := startEdge(t, p, Config{}, RequireAndVerify, h, false)
	get(t, c, u, nil) // the good certificate passes
	stranger, err := testpki.SelfSigned("stranger")
	require.NoError(t, err)
	tr := c.Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{{Certificate: [][]byte{stranger.Cert.Raw}, PrivateKey: stranger.Key}}
	_, err = (&http.Client{Transport: tr}).Get(u)
	require.Error(t, err)
	tr.TLSClientConfig.Certificates = nil
	_, err = (&http.Client{Transport: tr}).Get(u)
	require.Error(t, err)
}

func TestProxyKeepsHeadersNamedInConnection(t *testing.T) {
	p := newPKI(t)
	var got http.Header
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer origin.Close()
	ou, _ := url.Parse(origin.URL)
	e, err := New(Config{Verifier: &Verifier{Roots: p.pool}})
	require.NoError(t, err)
	u, c := startEdgeHandler(t, p, e, e.Proxy(ou, ProxyOptions{}))
	get(t, c, u, http.Header{"Connection": {"Client-Cert, Client-Cert-Chain"}, "Client-Cert": {":Zm9v:"}})
	assert.Equal(t, []string{cert.EncodeClientCert(p.leaf.Cert.Raw)}, got["Client-Cert"])
	assert.Equal(t, []string{cert.EncodeClientCert(p.inter.Cert.Raw)}, got["Client-Cert-Chain"])
}

func startEdgeHandler(t *testing.T, p *pki, e *Edge, h http.Handler) (string, *http.Client) {
	t.Helper()
	srvCert, err := p.root.ServerCert()
	require.NoError(t, err)
	tlsCfg, err := e.TLSConfig(&tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{srvCert.Cert.Raw}, PrivateKey: srvCert.Key}}}, Request)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: h, ConnContext: e.ConnContext}
	go srv.Serve(e.Listener(ln, tlsCfg))
	t.Cleanup(func() { srv.Close() })
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{{
		Certificate: [][]byte{p.leaf.Cert.Raw, p.inter.Cert.Raw}, PrivateKey: p.leaf.Key}}}}
	t.Cleanup(tr.CloseIdleConnections)
	return "https://" + ln.Addr().String(), &http.Client{Transport: tr}
}

func TestRequireModeRefusesOnlyMissingCertificates(t *testing.T) {
	p := newPKI(t)
	h, got := recorder()
	u, c := startEdge(t, p, Config{}, Require, h, false)
	stranger, err := testpki.SelfSigned("stranger")
	require.NoError(t, err)
	tr := c.Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{{Certificate: [][]byte{stranger.Cert.Raw}, PrivateKey: stranger.Key}}
	get(t, &http.Client{Transport: tr}, u, nil)
	all := got()
	require.Len(t, all, 1)
	assert.Equal(t, "FAILED:self signed certificate", all[0].View.CertVerified, "reported, not refused")
	assert.Empty(t, all[0].Header.Values("Client-Cert"))
	bare := c.Transport.(*http.Transport).Clone() // a fresh pool: no connection to reuse
	bare.TLSClientConfig.Certificates = nil
	_, err = (&http.Client{Transport: bare}).Get(u)
	require.Error(t, err, "no certificate, no handshake")
}

func TestVerifyModesNeedTrustAnchors(t *testing.T) {
	e, err := New(Config{})
	require.NoError(t, err)
	for _, m := range []ClientAuth{VerifyIfGiven, RequireAndVerify} {
		_, err := e.TLSConfig(&tls.Config{}, m)
		assert.Error(t, err, m.String())
	}
	for _, m := range []ClientAuth{Request, Require} {
		_, err := e.TLSConfig(&tls.Config{}, m)
		assert.NoError(t, err, m.String())
	}
	for _, s := range []string{"request", "require", "verify-if-given", "require-and-verify"} {
		m, err := ParseClientAuth(s)
		require.NoError(t, err)
		assert.Equal(t, s, m.String())
	}
	_, err = ParseClientAuth("optional")
	assert.Error(t, err)
}

func TestMiddlewareRefusesABadConfig(t *testing.T) {
	e, mw, err := Middleware(Config{Legacy: LegacyMode(9)})
	require.Error(t, err, "a configuration mistake is an error, not a panic")
	assert.Nil(t, e)
	assert.Nil(t, mw)
}

func TestModeStringsNeverPanic(t *testing.T) {
	for _, tc := range []struct {
		s    fmt.Stringer
		want string
	}{
		{Request, "request"},
		{RequireAndVerify, "require-and-verify"},
		{ClientAuth(7), "ClientAuth(7)"},
		{ClientAuth(-1), "ClientAuth(-1)"},
		{LegacyEveryRequest, "every-request"},
		{LegacyMode(9), "LegacyMode(9)"},
	} {
		assert.Equal(t, tc.want, tc.s.String())
	}
}
