package edge

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/edge/rules"
	"github.com/certsight/certsight/internal/testpki"
)

// reloadRig serves a recorder behind an edge built from cfg, with cfg's
// server certificate, and returns the edge, its address and what the
// handler saw.
func reloadRig(t *testing.T, cfg Config, mode ClientAuth, h http.Handler) (*Edge, string) {
	t.Helper()
	e, err := New(cfg)
	require.NoError(t, err)
	tlsCfg, err := e.TLSConfig(&tls.Config{}, mode)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: e.Handler(h), ConnContext: e.ConnContext}
	go srv.Serve(e.Listener(ln, tlsCfg))
	t.Cleanup(func() { srv.Close() })
	return e, "https://" + ln.Addr().String()
}

func serverCert(t *testing.T, p *pki) *tls.Certificate {
	t.Helper()
	c, err := p.root.ServerCert()
	require.NoError(t, err)
	return &tls.Certificate{Certificate: [][]byte{c.Cert.Raw}, PrivateKey: c.Key, Leaf: c.Cert}
}

func ruleset(t *testing.T, js string) *rules.Ruleset {
	t.Helper()
	rs, err := rules.LoadRuleset(strings.NewReader(js), rules.NewSchema(rules.CloudflareFields()))
	require.NoError(t, err)
	return rs
}

// getTraced GETs u and returns the response's server certificate serial
// and whether the client reused a connection.
func getTraced(t *testing.T, c *http.Client, u string) (serial string, reused bool) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
	}))
	resp, err := c.Do(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return cert.NewInfo(resp.TLS.PeerCertificates[0]).Serial, reused
}

func TestReloadSwapsCertificateTrustAndRules(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1 keep-alive", true: "HTTP/2"}[h2], func(t *testing.T) {
			p := newPKI(t)
			other, err := testpki.NewRoot("Another Root")
			require.NoError(t, err)
			otherPool := x509.NewCertPool()
			otherPool.AddCert(other.Cert)
			cert1, cert2 := serverCert(t, p), serverCert(t, p)
			h, got := recorder()
			e, u := reloadRig(t, Config{Verifier: &Verifier{Roots: p.pool}, Certificate: cert1}, VerifyIfGiven, h)
			c := newClient(t, p, h2)

			serial, _ := getTraced(t, c, u)
			assert.Equal(t, cert.NewInfo(cert1.Leaf).Serial, serial)
			before := got()[0].Header
			assert.Equal(t, []string{cert.EncodeClientCert(p.leaf.Cert.Raw)}, before["Client-Cert"])

			// The new configuration trusts another root only, serves
			// another certificate, and adds a rule.
			require.NoError(t, e.Reload(Config{Verifier: &Verifier{Roots: otherPool}, Certificate: cert2,
				Rules: ruleset(t, `{"rules":[{"expression":"not cf.tls_client_auth.cert_verified","action":"rewrite",
					"action_parameters":{"headers":{"X-Unverified":{"operation":"set","value":"yes"}}}}]}`)}))
			assert.Same(t, cert2, e.ServerCertificate())

			serial, reused := getTraced(t, c, u)
			assert.True(t, reused, "the open connection survives the reload")
			assert.Equal(t, cert.NewInfo(cert1.Leaf).Serial, serial, "an open connection keeps its TLS session")
			after := got()[1]
			assert.Empty(t, after.Header["Client-Cert"], "a root taken out stops counting on open connections")
			assert.Equal(t, "yes", after.Header.Get("X-Unverified"), "the new rules apply")
			assert.Equal(t, "FAILED:unable to get local issuer certificate", after.View.CertVerified)
			assert.NotEqual(t, got()[0].Info, after.Info, "the connection's fields were computed again")

			fresh := newClient(t, p, h2)
			serial, reused = getTraced(t, fresh, u)
			assert.False(t, reused)
			assert.Equal(t, cert.NewInfo(cert2.Leaf).Serial, serial, "new handshakes get the new certificate")
			assert.True(t, got()[2].AtTLS)
			assert.Equal(t, "yes", got()[2].Header.Get("X-Unverified"))
		})
	}
}

func newClient(t *testing.T, p *pki, h2 bool) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{{
		Certificate: [][]byte{p.leaf.Cert.Raw, p.inter.Cert.Raw}, PrivateKey: p.leaf.Key}}}, ForceAttemptHTTP2: h2}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestReloadInFlightRequestFinishesWithItsConfiguration(t *testing.T) {
	p := newPKI(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var header http.Header
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header = r.Header.Clone()
		close(entered)
		<-release
		io.WriteString(w, "done")
	})
	e, u := reloadRig(t, Config{Verifier: &Verifier{Roots: p.pool}, Certificate: serverCert(t, p)}, VerifyIfGiven, h)
	c := newClient(t, p, false)
	done := make(chan error, 1)
	go func() {
		resp, err := c.Get(u)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		done <- err
	}()
	<-entered
	require.NoError(t, e.Reload(Config{Verifier: &Verifier{Roots: x509.NewCertPool()}, Certificate: serverCert(t, p)}))
	close(release)
	require.NoError(t, <-done, "the request in flight is not dropped")
	assert.Equal(t, []string{cert.EncodeClientCert(p.leaf.Cert.Raw)}, header["Client-Cert"],
		"it was served by the configuration it started with")
}

func TestReloadRefusesAndKeepsTheRunningConfiguration(t *testing.T) {
	p := newPKI(t)
	cert1 := serverCert(t, p)
	cases := []struct {
		name string
		mode ClientAuth
		cfg  Config
		want string
	}{
		{"no trust anchors in a verifying mode", VerifyIfGiven, Config{Verifier: &Verifier{}, Certificate: cert1}, "needs trust anchors"},
		{"no server certificate", Request, Config{Verifier: &Verifier{Roots: p.pool}}, "server certificate"},
		{"empty server certificate", Request, Config{Verifier: &Verifier{Roots: p.pool}, Certificate: &tls.Certificate{}}, "no certificate"},
		{"legacy mode out of range", Request, Config{Verifier: &Verifier{Roots: p.pool}, Certificate: cert1, Legacy: 7}, "out of range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, got := recorder()
			e, u := reloadRig(t, Config{Verifier: &Verifier{Roots: p.pool}, Certificate: cert1}, tc.mode, h)
			running := e.cfg.Load()
			assert.ErrorContains(t, e.Reload(tc.cfg), tc.want)
			assert.Same(t, running, e.cfg.Load(), "nothing changed")
			get(t, newClient(t, p, false), u, nil)
			assert.Equal(t, "SUCCESS", got()[0].View.CertVerified)
		})
	}
	t.Run("a certificate cannot appear when New had none", func(t *testing.T) {
		e, err := New(Config{})
		require.NoError(t, err)
		assert.ErrorContains(t, e.Reload(Config{Certificate: cert1}), "server certificate")
		assert.Nil(t, e.ServerCertificate())
	})
}
