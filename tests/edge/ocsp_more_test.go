package edge_test

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testpki"
	"github.com/certsight/certsight/internal/testtool"
)

// startOpenSSLOCSP runs `openssl ocsp` on port as the responder for the CA
// in caPEM, signing with signer/key, answering from entries (other serials
// are unknown; the index is name-index.txt in f's directory). It is killed
// when the test ends.
func startOpenSSLOCSP(t *testing.T, f *fixtures, name string, port int, caPEM, signer, key string, entries ...testtool.OCSPEntry) string {
	t.Helper()
	index := testtool.OCSPIndex(t, filepath.Join(f.dir, name+"-index.txt"), entries...)
	return testtool.OCSPResponder(t, index, caPEM, signer, key, port)
}

// slowRelay forwards connections to upstream (host:port) after holding
// each one for delay: a responder that answers late.
func slowRelay(t *testing.T, upstream string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				time.Sleep(delay)
				up, err := net.Dial("tcp", upstream)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, c)
				io.Copy(c, up)
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/"
}

// timedGet opens a new connection presenting certFile/keyFile, sends one
// request, and returns what the origin received and how long it took.
func timedGet(t *testing.T, f *fixtures, p *proxy, certFile, keyFile string) (received, time.Duration) {
	t.Helper()
	c := client(t, f, certFile, keyFile, false)
	start := time.Now()
	rec := getJSON(t, c, p.url("/"))
	return rec, time.Since(start)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestOCSPChain checks intermediates with OCSP end to end: each CA's
// certificates name their own `openssl ocsp` responder (AIA), the root's
// responder says one intermediate is revoked, and certsight-edge must
// refuse that intermediate's leaves — unless --ocsp-leaf-only. It also
// measures what OCSP adds to a new connection's first request.
func TestOCSPChain(t *testing.T) {
	needOpenSSL(t)
	f := newFixtures(t)
	origin := newEcho(t)
	rules := f.write(t, "rules.json", []byte(exposeRules))
	rootPort, interPort := freePort(t), freePort(t)
	rootURL, interURL := fmt.Sprintf("http://127.0.0.1:%d/", rootPort), fmt.Sprintf("http://127.0.0.1:%d/", interPort)
	inter, err := f.root.NewIntermediateWith("OCSP Good Intermediate", testpki.Options{OCSPServer: []string{rootURL}})
	require.NoError(t, err)
	bad, err := f.root.NewIntermediateWith("OCSP Revoked Intermediate", testpki.Options{OCSPServer: []string{rootURL}})
	require.NoError(t, err)
	issue := func(ca *testpki.Authority, name string, aia ...string) (*testpki.Leaf, string, string) {
		l, err := ca.Issue(testpki.Options{OCSPServer: aia})
		require.NoError(t, err)
		return l, f.write(t, name+".pem", testpki.CertPEM(l.Cert, ca.Cert)), f.writeKey(t, name+".key", l)
	}
	leaf, leafCert, leafKey := issue(inter, "ocsp-leaf", interURL)
	// Its own status is nobody's business (no AIA): only its CA's counts.
	_, badCert, badKey := issue(bad, "ocsp-under-revoked")
	// Fresh leaves for measuring first checks: each serial is asked once.
	const samples = 15
	var fresh [][2]string
	entries := []testtool.OCSPEntry{{Serial: leaf.Cert.SerialNumber}}
	for i := range samples {
		l, c, k := issue(inter, fmt.Sprintf("ocsp-fresh-%d", i), interURL)
		fresh = append(fresh, [2]string{c, k})
		entries = append(entries, testtool.OCSPEntry{Serial: l.Cert.SerialNumber})
	}
	rootKey := f.writeKey(t, "root.key", &testpki.Leaf{Cert: f.root.Cert, Key: f.root.Key})
	interPEM := f.write(t, "ocsp-inter.pem", testpki.CertPEM(inter.Cert))
	interKey := f.writeKey(t, "ocsp-inter.key", &testpki.Leaf{Cert: inter.Cert, Key: inter.Key})
	startOpenSSLOCSP(t, f, "root", rootPort, f.rootPEM, f.rootPEM, rootKey,
		testtool.OCSPEntry{Serial: inter.Cert.SerialNumber}, testtool.OCSPEntry{Serial: bad.Cert.SerialNumber, Revoked: true})
	startOpenSSLOCSP(t, f, "inter", interPort, interPEM, interPEM, interKey, entries...)

	p := startEdge(t, f, origin.URL, "--client-ca", f.rootPEM, "--ocsp", "--rules", rules, "--workers-headers")
	// The very first check asks both responders, at once.
	rec, first := timedGet(t, f, p, leafCert, leafKey)
	assertGood(t, rec, leaf.Cert.Raw)
	rec, _ = timedGet(t, f, p, badCert, badKey)
	assertRevoked(t, rec)
	assert.Equal(t, "FAILED:certificate revoked", rec.Header.Get("X-Cert-Verify"), "the intermediate's revocation decides")

	// The three kinds of request take turns, so a busy machine slows them
	// alike.
	plain := startEdge(t, f, origin.URL, "--client-ca", f.rootPEM, "--rules", rules, "--workers-headers")
	var firsts, cached, none []time.Duration
	for _, kc := range fresh {
		_, d := timedGet(t, f, plain, leafCert, leafKey)
		none = append(none, d)
		rec, d := timedGet(t, f, p, kc[0], kc[1])
		assert.Equal(t, "SUCCESS", rec.Header.Get("X-Cert-Verify"))
		firsts = append(firsts, d)
		_, d = timedGet(t, f, p, leafCert, leafKey)
		cached = append(cached, d)
	}
	t.Logf("new connection + request (median of %d): without OCSP %v; first OCSP check of a leaf (intermediate cached) %v; cached answers %v; very first (leaf and intermediate at once) %v",
		samples, median(none).Round(time.Microsecond), median(firsts).Round(time.Microsecond),
		median(cached).Round(time.Microsecond), first.Round(time.Microsecond))

	leafOnly := startEdge(t, f, origin.URL, "--client-ca", f.rootPEM, "--ocsp", "--ocsp-leaf-only", "--rules", rules, "--workers-headers")
	rec, _ = timedGet(t, f, leafOnly, badCert, badKey)
	assert.Equal(t, "SUCCESS", rec.Header.Get("X-Cert-Verify"), "--ocsp-leaf-only does not ask about intermediates")
}

// TestOCSPSlowAndWrongSigner runs certsight-edge against `openssl ocsp`
// answering late (behind a relay that holds each connection) and signing
// with a key the issuer never delegated to.
func TestOCSPSlowAndWrongSigner(t *testing.T) {
	f := newRevFixtures(t)
	goodCRL := f.write(t, "ocsp-good.crl", f.interCA.crl(t, crlOpts{number: 1}))
	entries := []testtool.OCSPEntry{{Serial: f.leaf.Cert.SerialNumber}, {Serial: f.revoked.Cert.SerialNumber, Revoked: true}}

	t.Run("slow responder: --ocsp-timeout bounds the wait, the answer serves the next connection", func(t *testing.T) {
		port := freePort(t)
		startOpenSSLOCSP(t, f.fixtures, "slow", port, f.interPEM, f.interPEM, f.interKey, entries...)
		const delay = 1500 * time.Millisecond
		relay := slowRelay(t, fmt.Sprintf("127.0.0.1:%d", port), delay)

		p := f.start(t, goodCRL, "--ocsp-responder", relay, "--ocsp-leaf-only", "--ocsp-timeout", "200ms")
		rec, took := timedGet(t, f.fixtures, p, f.leafChain, f.leafKey)
		assert.Equal(t, "FAILED:OCSP status unknown", rec.Header.Get("X-Cert-Verify"), "no answer in time: closed")
		assert.Empty(t, rec.Header.Values("Client-Cert"))
		assert.Less(t, took, delay, "the handshake did not wait for the responder")
		require.Eventually(t, func() bool {
			rec, _ := timedGet(t, f.fixtures, p, f.leafChain, f.leafKey)
			return rec.Header.Get("X-Cert-Verify") == "SUCCESS"
		}, 10*time.Second, 100*time.Millisecond, "the fetch went on and its answer serves later connections")

		patient := f.start(t, goodCRL, "--ocsp-responder", relay, "--ocsp-leaf-only", "--ocsp-timeout", "5s")
		rec, waited := timedGet(t, f.fixtures, patient, f.revokedCert, f.revokedKey)
		assertRevoked(t, rec)
		assert.GreaterOrEqual(t, waited, delay, "a longer --ocsp-timeout waits for the answer")
		t.Logf("responder %v late: new connection + request with --ocsp-timeout 200ms %v (unknown), with 5s %v (the answer)",
			delay, took.Round(time.Millisecond), waited.Round(time.Millisecond))
	})

	t.Run("wrong signer: neither good nor revoked is believed", func(t *testing.T) {
		// The server certificate: issued by the root, not the intermediate,
		// and without id-kp-OCSPSigning.
		port := freePort(t)
		url := startOpenSSLOCSP(t, f.fixtures, "wrong", port, f.interPEM, f.serverCert, f.serverKey, entries...)
		for _, tc := range []struct{ policy, good, revoked string }{
			{"closed", "FAILED:OCSP status unknown", "FAILED:OCSP status unknown"},
			{"open", "SUCCESS", "SUCCESS"},
		} {
			p := f.start(t, goodCRL, "--ocsp-responder", url, "--ocsp-leaf-only", "--ocsp-timeout", "5s", "--revocation-fail", tc.policy)
			rec, _ := timedGet(t, f.fixtures, p, f.leafChain, f.leafKey)
			assert.Equal(t, tc.good, rec.Header.Get("X-Cert-Verify"), tc.policy)
			rec, _ = timedGet(t, f.fixtures, p, f.revokedCert, f.revokedKey)
			assert.Equal(t, tc.revoked, rec.Header.Get("X-Cert-Verify"), "%s: a revocation from an unauthorised signer is not believed", tc.policy)
			assert.Contains(t, p.logs.String(), "not signed by the issuer or a delegated responder", tc.policy)
		}
	})
}
