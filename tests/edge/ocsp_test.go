package edge_test

import (
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/certsight/certsight/internal/testtool"
)

// startOCSPResponder runs `openssl ocsp` as the intermediate's responder on
// loopback, answering from an index where revoked is revoked and every
// other serial is good (listed) or unknown (not listed). It is killed when
// the test ends.
func (f *revFixtures) startOCSPResponder(t *testing.T, good, revoked *big.Int) string {
	t.Helper()
	return startOpenSSLOCSP(t, f.fixtures, "ocsp", freePort(t), f.interPEM, f.interPEM, f.interKey,
		testtool.OCSPEntry{Serial: good}, testtool.OCSPEntry{Serial: revoked, Revoked: true})
}

func TestOCSP(t *testing.T) {
	f := newRevFixtures(t)
	// A good CRL (nothing revoked): OCSP's revoked must win over it.
	goodCRL := f.write(t, "ocsp-good.crl", f.interCA.crl(t, crlOpts{number: 1}))

	t.Run("openssl ocsp responder: good forwarded, revoked not forwarded as verified", func(t *testing.T) {
		url := f.startOCSPResponder(t, f.leaf.Cert.SerialNumber, f.revoked.Cert.SerialNumber)
		// The responder knows only the intermediate's certificates.
		p := f.start(t, goodCRL, "--ocsp-responder", url, "--revocation-fail", "closed", "--ocsp-leaf-only")

		// Each client is a new connection: the first asks the responder,
		// the second finds the cached answer. The difference is what a
		// first OCSP check adds to a request (logged, not asserted).
		start := time.Now()
		assertGood(t, getJSON(t, client(t, f.fixtures, f.leafChain, f.leafKey, false), p.url("/")), f.leaf.Cert.Raw)
		first := time.Since(start)
		start = time.Now()
		assertGood(t, getJSON(t, client(t, f.fixtures, f.leafChain, f.leafKey, false), p.url("/")), f.leaf.Cert.Raw)
		cached := time.Since(start)
		t.Logf("new connection + request: first OCSP check %v, cached answer %v", first, cached)

		assertRevoked(t, getJSON(t, client(t, f.fixtures, f.revokedCert, f.revokedKey, false), p.url("/")))
	})

	t.Run("responder down: closed is not verified, open is forwarded", func(t *testing.T) {
		down := fmt.Sprintf("http://127.0.0.1:%d/", freePort(t))
		for _, tc := range []struct{ policy, verify, verified string }{
			{"closed", "FAILED:OCSP status unknown", "false"},
			{"open", "SUCCESS", "true"},
		} {
			p := f.start(t, goodCRL, "--ocsp-responder", down, "--revocation-fail", tc.policy)
			rec := getJSON(t, client(t, f.fixtures, f.leafChain, f.leafKey, false), p.url("/"))
			assert.Equal(t, tc.verify, rec.Header.Get("X-Cert-Verify"), tc.policy)
			assert.Equal(t, tc.verified, rec.Header.Get("X-Verified"), tc.policy)
			if tc.policy == "closed" {
				assert.Empty(t, rec.Header.Values("Client-Cert"))
			}
		}
	})
}
