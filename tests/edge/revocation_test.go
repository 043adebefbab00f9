package edge_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testpki"
)

// revFixtures adds to fixtures what the revocation tests share: a revoked
// client, openssl CAs for the intermediate and the root, and the flags
// that start an edge checking CRLs.
type revFixtures struct {
	*fixtures
	origin                  *echo
	revoked                 *testpki.Leaf
	revokedCert, revokedKey string
	interCA, rootCA         *opensslCA
	interKey                string
	rules                   string
}

func newRevFixtures(t *testing.T) *revFixtures {
	t.Helper()
	needOpenSSL(t)
	f := &revFixtures{fixtures: newFixtures(t), origin: newEcho(t)}
	f.revoked, f.revokedCert, f.revokedKey = f.issue(t, "revoked", testpki.Options{})
	f.interKey = f.writeKey(t, "inter.key", &testpki.Leaf{Cert: f.inter.Cert, Key: f.inter.Key})
	f.interCA = newOpenSSLCA(t, f.interPEM, f.interKey)
	f.rootCA = newOpenSSLCA(t, f.rootPEM, f.writeKey(t, "root.key", &testpki.Leaf{Cert: f.root.Cert, Key: f.root.Key}))
	f.rules = f.write(t, "rules.json", []byte(exposeRules))
	return f
}

// start runs an edge with the intermediate's CRL file crl and the
// X-CERT preset (X-Cert-Verify shows certVerified).
func (f *revFixtures) start(t *testing.T, crl string, extra ...string) *proxy {
	t.Helper()
	args := append([]string{"--client-ca", f.rootPEM, "--client-intermediates", f.interPEM, "--crl", crl,
		"--rules", f.rules, "--workers-headers", "--crl-check-interval", "50ms"}, extra...)
	return startEdge(t, f.fixtures, f.origin.URL, args...)
}

// replace writes data over path atomically, as a CRL publisher should.
// On Windows a file cannot be renamed over while another process has it
// open (the edge reading it at that moment): a publisher there retries,
// and so does this.
func replace(t *testing.T, path string, data []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(path+".tmp", data, 0o600))
	err := os.Rename(path+".tmp", path)
	for deadline := time.Now().Add(5 * time.Second); err != nil && runtime.GOOS == "windows" && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		err = os.Rename(path+".tmp", path)
	}
	require.NoError(t, err)
}

// keptAlive GETs u with c and reports whether the request reused a
// connection; the origin's last record is what it forwarded.
func keptAlive(t *testing.T, c *http.Client, u string) bool {
	t.Helper()
	reused := false
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
	return reused
}

// assertRevoked checks what the origin saw for a revoked certificate.
func assertRevoked(t *testing.T, rec received) {
	t.Helper()
	assert.Equal(t, "true", rec.Header.Get("X-Revoked"))
	assert.Equal(t, "FAILED:certificate revoked", rec.Header.Get("X-Cert-Verify"))
	assert.Equal(t, "1", rec.Header.Get("X-Cert-Revoked"))
	assert.Empty(t, rec.Header.Values("Client-Cert"))
	assert.Empty(t, rec.Header.Values("Client-Cert-Chain"))
}

func assertGood(t *testing.T, rec received, der []byte) {
	t.Helper()
	assert.Equal(t, "false", rec.Header.Get("X-Revoked"))
	assert.Equal(t, "SUCCESS", rec.Header.Get("X-Cert-Verify"))
	assert.Equal(t, "0", rec.Header.Get("X-Cert-Revoked"))
	requireClientCert(t, rec.Header, der)
}

func TestRevocationFailsSafe(t *testing.T) {
	f := newRevFixtures(t)
	revokedSerial := []*big.Int{f.revoked.Cert.SerialNumber}

	t.Run("openssl CRLs, PEM and DER, revoke; the root's CRL revokes the intermediate", func(t *testing.T) {
		for _, der := range []bool{false, true} {
			crl := f.write(t, "inter.crl", f.interCA.crl(t, crlOpts{number: 1, revoked: revokedSerial, der: der}))
			p := f.start(t, crl)
			assertRevoked(t, getJSON(t, client(t, f.fixtures, f.revokedCert, f.revokedKey, false), p.url("/")))
			assertGood(t, getJSON(t, client(t, f.fixtures, f.leafChain, f.leafKey, false), p.url("/")), f.leaf.Cert.Raw)
		}
		rootCRL := f.write(t, "root.crl", f.rootCA.crl(t, crlOpts{number: 1, revoked: []*big.Int{f.inter.Cert.SerialNumber}}))
		p := startEdge(t, f.fixtures, f.origin.URL, "--client-ca", f.rootPEM, "--crl", rootCRL, "--rules", f.rules, "--workers-headers")
		assertRevoked(t, getJSON(t, client(t, f.fixtures, f.leafChain, f.leafKey, false), p.url("/")))
	})

	t.Run("a foreign or forged CRL at start is a start-up error", func(t *testing.T) {
		stranger, err := testpki.NewRoot("Stranger CA")
		require.NoError(t, err)
		strangerCA := newOpenSSLCA(t, f.write(t, "stranger-ca.pem", testpki.CertPEM(stranger.Cert)),
			f.writeKey(t, "stranger-ca.key", &testpki.Leaf{Cert: stranger.Cert, Key: stranger.Key}))
		impostorRoot, err := testpki.NewRoot("E2E Root CA")
		require.NoError(t, err)
		impostor, err := impostorRoot.NewIntermediate("E2E Intermediate CA") // same name, other key
		require.NoError(t, err)
		impostorCA := newOpenSSLCA(t, f.write(t, "impostor.pem", testpki.CertPEM(impostor.Cert)),
			f.writeKey(t, "impostor.key", &testpki.Leaf{Cert: impostor.Cert, Key: impostor.Key}))
		for _, tc := range []struct{ name, crl, want string }{
			{"foreign", f.write(t, "foreign.crl", strangerCA.crl(t, crlOpts{})), "matches no trust anchor or intermediate"},
			{"forged", f.write(t, "forged.crl", impostorCA.crl(t, crlOpts{revoked: revokedSerial})), "signature does not verify"},
			{"garbage", f.write(t, "garbage.crl", []byte("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")), "not a parsable CRL"},
		} {
			out, err := runEdgeOnce(t, f.fixtures, f.origin.URL, "--client-ca", f.rootPEM, "--client-intermediates", f.interPEM, "--crl", tc.crl)
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, tc.name)
			assert.NotZero(t, ee.ExitCode())
			assert.Contains(t, out, tc.crl, tc.name)
			assert.Contains(t, out, tc.want, tc.name)
		}
		// Without the intermediate configured, its CRL matches nothing.
		crl := f.write(t, "inter-only.crl", f.interCA.crl(t, crlOpts{}))
		out, err := runEdgeOnce(t, f.fixtures, f.origin.URL, "--client-ca", f.rootPEM, "--crl", crl)
		require.Error(t, err)
		assert.Contains(t, out, "matches no trust anchor or intermediate")
	})

	t.Run("a CRL replaces the current one only if it is better evidence", func(t *testing.T) {
		crl := f.write(t, "better.crl", f.interCA.crl(t, crlOpts{number: 5, revoked: revokedSerial}))
		p := f.start(t, crl)
		assertRevoked(t, getJSON(t, client(t, f.fixtures, f.revokedCert, f.revokedKey, false), p.url("/")))
		stranger, err := testpki.NewRoot("Stranger CA")
		require.NoError(t, err)
		strangerCA := newOpenSSLCA(t, f.write(t, "stranger2.pem", testpki.CertPEM(stranger.Cert)),
			f.writeKey(t, "stranger2.key", &testpki.Leaf{Cert: stranger.Cert, Key: stranger.Key}))
		impostorRoot, err := testpki.NewRoot("E2E Root CA")
		require.NoError(t, err)
		impostor, err := impostorRoot.NewIntermediate("E2E Intermediate CA")
		require.NoError(t, err)
		impostorCA := newOpenSSLCA(t, f.write(t, "impostor2.pem", testpki.CertPEM(impostor.Cert)),
			f.writeKey(t, "impostor2.key", &testpki.Leaf{Cert: impostor.Cert, Key: impostor.Key}))
		for _, tc := range []struct {
			name string
			data []byte
			want string
		}{
			{"another CA's CRL", strangerCA.crl(t, crlOpts{number: 9}), "matches no trust anchor or intermediate"},
			{"forged CRL", impostorCA.crl(t, crlOpts{number: 9}), "signature does not verify"},
			{"older CRL (lower number, earlier lastUpdate)", f.interCA.crl(t, crlOpts{number: 4, lastUpdate: time.Now().Add(-time.Hour)}), "older than the CRL in use"},
			{"expired CRL", f.interCA.crl(t, crlOpts{number: 3, lastUpdate: time.Now().Add(-72 * time.Hour), nextUpdate: time.Now().Add(-48 * time.Hour)}), "older than the CRL in use"},
			{"truncated file", []byte("-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----\n"), "not a parsable CRL"},
		} {
			replace(t, crl, tc.data)
			require.Eventually(t, func() bool { return strings.Contains(p.logs.String(), tc.want) }, 10*time.Second, 20*time.Millisecond, tc.name)
			assertRevoked(t, getJSON(t, client(t, f.fixtures, f.revokedCert, f.revokedKey, false), p.url("/")))
		}
		logs := p.logs.String()
		assert.Contains(t, logs, `"level":"ERROR","msg":"CRL reload failed, keeping the last good CRL","path":"`+crl+`"`)
	})

	t.Run("a CRL that goes stale still revokes; the policy decides for the rest", func(t *testing.T) {
		for _, policy := range []string{"closed", "open"} {
			next := time.Now().Add(3 * time.Second)
			crl := f.write(t, "stale-"+policy+".crl", f.interCA.crl(t, crlOpts{number: 1, revoked: revokedSerial, nextUpdate: next}))
			p := f.start(t, crl, "--revocation-fail", policy)
			revokedC := client(t, f.fixtures, f.revokedCert, f.revokedKey, false)
			goodC := client(t, f.fixtures, f.leafChain, f.leafKey, true)
			assertRevoked(t, getJSON(t, revokedC, p.url("/")))
			assertGood(t, getJSON(t, goodC, p.url("/")), f.leaf.Cert.Raw)
			time.Sleep(time.Until(next) + 200*time.Millisecond) // the CRL's own clock
			// The same kept-alive connections, after nextUpdate.
			reused := keptAlive(t, revokedC, p.url("/"))
			require.True(t, reused)
			assertRevoked(t, f.origin.last(t))
			reused = keptAlive(t, goodC, p.url("/"))
			require.True(t, reused)
			rec := f.origin.last(t)
			if policy == "closed" {
				assert.Equal(t, "FAILED:CRL has expired", rec.Header.Get("X-Cert-Verify"))
				assert.Equal(t, "false", rec.Header.Get("X-Verified"))
				assert.Empty(t, rec.Header.Values("Client-Cert"))
			} else {
				assertGood(t, rec, f.leaf.Cert.Raw)
			}
			require.Eventually(t, func() bool { return strings.Contains(p.logs.String(), "revocation data is stale") }, 5*time.Second, 20*time.Millisecond)
			time.Sleep(200 * time.Millisecond)
			assert.Equal(t, 1, strings.Count(p.logs.String(), "revocation data is stale"), "WARN once, not per request")
		}
	})

	t.Run("a CRL stale at start: closed fails, open forwards", func(t *testing.T) {
		crl := f.write(t, "old.crl", f.interCA.crl(t, crlOpts{number: 1, lastUpdate: time.Now().Add(-48 * time.Hour), nextUpdate: time.Now().Add(-24 * time.Hour)}))
		p := f.start(t, crl)
		rec := getJSON(t, client(t, f.fixtures, f.leafChain, f.leafKey, false), p.url("/"))
		assert.Equal(t, "FAILED:CRL has expired", rec.Header.Get("X-Cert-Verify"))
		assert.Empty(t, rec.Header.Values("Client-Cert"))
		assert.Contains(t, p.logs.String(), `"level":"WARN"`)
		p = f.start(t, crl, "--revocation-fail", "open")
		assertGood(t, getJSON(t, client(t, f.fixtures, f.leafChain, f.leafKey, false), p.url("/")), f.leaf.Cert.Raw)
	})

	t.Run("issuer names are compared as X.509 does", func(t *testing.T) {
		// The same intermediate key under a differently written name:
		// UTF8String, other case, extra spaces.
		re := f.dir + "/inter-reencoded.pem"
		out, err := exec.Command("openssl", "req", "-new", "-x509", "-key", f.interKey, "-days", "2", "-utf8",
			"-subj", "/C=US/O=CERTSIGHT   Test/CN=  e2e intermediate   CA ", "-out", re).CombinedOutput()
		require.NoError(t, err, "%s", out)
		reCA := newOpenSSLCA(t, re, f.interKey)
		data := reCA.crl(t, crlOpts{number: 1, revoked: revokedSerial})
		require.False(t, bytes.Contains(data, []byte("E2E Intermediate CA")))
		crl := f.write(t, "reencoded.crl", data)
		p := f.start(t, crl)
		assertRevoked(t, getJSON(t, client(t, f.fixtures, f.revokedCert, f.revokedKey, false), p.url("/")))
	})

	t.Run("a failed load is retried though size and mtime never change again", func(t *testing.T) {
		empty := f.interCA.crl(t, crlOpts{number: 1})
		full := f.interCA.crl(t, crlOpts{number: 2, revoked: revokedSerial})
		crl := f.write(t, "retry.crl", empty)
		p := f.start(t, crl)
		assertGood(t, getJSON(t, client(t, f.fixtures, f.revokedCert, f.revokedKey, false), p.url("/")), f.revoked.Cert.Raw)
		size := len(full) + 64
		mtime := time.Now().Add(-time.Minute).Truncate(time.Second)
		// A half-written file, then the real one padded to the same size,
		// with the same mtime.
		require.NoError(t, os.WriteFile(crl, append(full[:len(full)/2:len(full)/2], bytes.Repeat([]byte("\n"), size-len(full)/2)...), 0o600))
		require.NoError(t, os.Chtimes(crl, mtime, mtime))
		require.Eventually(t, func() bool { return strings.Contains(p.logs.String(), "CRL reload failed") }, 5*time.Second, 20*time.Millisecond)
		require.NoError(t, os.WriteFile(crl, append(full, bytes.Repeat([]byte("\n"), size-len(full))...), 0o600))
		require.NoError(t, os.Chtimes(crl, mtime, mtime))
		require.Eventually(t, func() bool { return strings.Contains(p.logs.String(), "CRL file loads again") }, 5*time.Second, 20*time.Millisecond)
		assertRevoked(t, getJSON(t, client(t, f.fixtures, f.revokedCert, f.revokedKey, false), p.url("/")))
	})

	t.Run("open connections follow a new CRL and notAfter (HTTP/1.1 and HTTP/2)", func(t *testing.T) {
		for _, h2 := range []bool{false, true} {
			crl := f.write(t, "live.crl", f.interCA.crl(t, crlOpts{number: 1}))
			p := f.start(t, crl)
			revokedC := client(t, f.fixtures, f.revokedCert, f.revokedKey, h2)
			assertGood(t, getJSON(t, revokedC, p.url("/")), f.revoked.Cert.Raw)
			replace(t, crl, f.interCA.crl(t, crlOpts{number: 2, revoked: revokedSerial}))
			require.Eventually(t, func() bool { return strings.Contains(p.logs.String(), "CRL reloaded") }, 5*time.Second, 20*time.Millisecond)
			reused := keptAlive(t, revokedC, p.url("/"))
			require.True(t, reused, "the same connection")
			assertRevoked(t, f.origin.last(t))

			notAfter := time.Now().Add(3 * time.Second)
			_, shortCert, shortKey := f.issue(t, "short", testpki.Options{NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
				Subject: pkix.Name{CommonName: "short-lived"}})
			shortC := client(t, f.fixtures, shortCert, shortKey, h2)
			assert.Equal(t, "SUCCESS", getJSON(t, shortC, p.url("/")).Header.Get("X-Cert-Verify"))
			time.Sleep(time.Until(notAfter) + 1100*time.Millisecond) // notAfter has second precision
			reused = keptAlive(t, shortC, p.url("/"))
			require.True(t, reused, "the same connection")
			rec := f.origin.last(t)
			assert.Equal(t, "FAILED:certificate has expired", rec.Header.Get("X-Cert-Verify"))
			assert.Empty(t, rec.Header.Values("Client-Cert"))
		}
	})

	t.Run("presets tell the truth (curl)", func(t *testing.T) {
		crl := f.write(t, "presets.crl", f.interCA.crl(t, crlOpts{number: 1, revoked: revokedSerial}))
		p := f.start(t, crl, "--managed-transform")
		body, err := curl(t, "--cacert", f.rootPEM, "--cert", f.revokedCert, "--key", f.revokedKey,
			"-H", "X-Cert-Verify: SUCCESS", "-H", "cf-cert-verified: true", "-H", "X-Cert-Revoked: 0", p.url("/"))
		require.NoError(t, err, body)
		rec := f.origin.last(t)
		assertRevoked(t, rec)
		assert.Equal(t, []string{"false"}, rec.Header.Values("Cf-Cert-Verified"))
		assert.Equal(t, []string{"true"}, rec.Header.Values("Cf-Cert-Revoked"))
		assert.Equal(t, []string{"FAILED:certificate revoked"}, rec.Header.Values("X-Cert-Verify"))
		assert.Contains(t, p.logs.String(), `"cert_verify":"FAILED:certificate revoked"`)
	})

	t.Run("resumed TLS sessions are checked too", func(t *testing.T) {
		crl := f.write(t, "resume.crl", f.interCA.crl(t, crlOpts{number: 1}))
		p := f.start(t, crl)
		kp, err := tls.LoadX509KeyPair(f.revokedCert, f.revokedKey)
		require.NoError(t, err)
		cache := tls.NewLRUClientSessionCache(8)
		newClient := func() *http.Client {
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.pool(), Certificates: []tls.Certificate{kp},
				ClientSessionCache: cache}, DisableKeepAlives: true}
			t.Cleanup(tr.CloseIdleConnections)
			return &http.Client{Transport: tr}
		}
		getJSON(t, newClient(), p.url("/"))
		replace(t, crl, f.interCA.crl(t, crlOpts{number: 2, revoked: revokedSerial}))
		require.Eventually(t, func() bool { return strings.Contains(p.logs.String(), "CRL reloaded") }, 5*time.Second, 20*time.Millisecond)
		resp, err := newClient().Get(p.url("/"))
		require.NoError(t, err)
		resp.Body.Close()
		require.True(t, resp.TLS.DidResume, "the second connection resumed its session")
		assertRevoked(t, f.origin.last(t))
	})

	t.Run("require-and-verify refuses a revoked certificate at the handshake", func(t *testing.T) {
		crl := f.write(t, "rav.crl", f.interCA.crl(t, crlOpts{number: 1, revoked: revokedSerial}))
		p := f.start(t, crl, "--client-auth", "require-and-verify")
		_, err := client(t, f.fixtures, f.revokedCert, f.revokedKey, false).Get(p.url("/"))
		require.Error(t, err)
		getJSON(t, client(t, f.fixtures, f.leafChain, f.leafKey, false), p.url("/"))
		_, err = client(t, f.fixtures, "", "", false).Get(p.url("/"))
		require.Error(t, err, "no certificate, no handshake")
	})
}
