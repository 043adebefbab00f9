package edge

import (
	"context"
	"crypto/x509"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/edge/revocation"
)

// fakeOCSP answers per certificate (by subject CN, default good) and
// records which (certificate, issuer) pairs it was asked about.
type fakeOCSP struct {
	status map[string]revocation.OCSPStatus
	until  map[string]time.Time
	mu     sync.Mutex
	asked  map[string]string // certificate CN → issuer CN
}

func (f *fakeOCSP) CheckOCSP(_ context.Context, cert, issuer *x509.Certificate) (revocation.OCSPStatus, time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.asked == nil {
		f.asked = map[string]string{}
	}
	f.asked[cert.Subject.CommonName] = issuer.Subject.CommonName
	return f.status[cert.Subject.CommonName], f.until[cert.Subject.CommonName]
}

func TestVerifyOCSP(t *testing.T) {
	p := newPKI(t)
	chain := []*x509.Certificate{p.leaf.Cert, p.inter.Cert}
	leaf, inter, root := p.leaf.Cert.Subject.CommonName, p.inter.Cert.Subject.CommonName, p.root.Cert.Subject.CommonName
	now := time.Now()
	soon, later := now.Add(time.Minute), now.Add(2*time.Minute)
	goodCRL, err := p.inter.CRL(nil, now.Add(-time.Hour), now.Add(time.Hour))
	require.NoError(t, err)
	const (
		good    = revocation.OCSPGood
		revoked = revocation.OCSPRevoked
		unknown = revocation.OCSPUnknown
		closed  = revocation.FailClosed
		open    = revocation.FailOpen
	)
	both := map[string]string{leaf: inter, inter: root}
	cases := []struct {
		name              string
		crl, leafOnly     bool
		leafSays, intSays revocation.OCSPStatus
		policy            revocation.Policy
		outcome           string
		asked             map[string]string
	}{
		{"good", false, false, good, good, closed, "SUCCESS", both},
		{"leaf revoked", false, false, revoked, good, open, "FAILED:certificate revoked", both},
		{"intermediate revoked", false, false, good, revoked, closed, "FAILED:certificate revoked", both},
		{"revoked wins over a good CRL", true, false, revoked, good, closed, "FAILED:certificate revoked", both},
		{"leaf unknown, fail closed", true, false, unknown, good, closed, "FAILED:OCSP status unknown", both},
		{"intermediate unknown, fail closed", true, false, good, unknown, closed, "FAILED:OCSP status unknown", both},
		{"intermediate unknown, fail open", true, false, good, unknown, open, "SUCCESS", both},
		{"a revocation beats an unknown", false, false, unknown, revoked, closed, "FAILED:certificate revoked", both},
		{"leaf only: the intermediate is not asked", false, true, good, revoked, closed, "SUCCESS", map[string]string{leaf: inter}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := &Verifier{Roots: p.pool, Policy: tc.policy, OCSPLeafOnly: tc.leafOnly}
			if tc.crl {
				v.Revocation = revocation.NewStore(revocation.Options{Issuers: []*x509.Certificate{p.root.Cert, p.inter.Cert}})
				_, err := v.Revocation.Offer(goodCRL, "test")
				require.NoError(t, err)
			}
			f := &fakeOCSP{status: map[string]revocation.OCSPStatus{leaf: tc.leafSays, inter: tc.intSays},
				until: map[string]time.Time{leaf: later, inter: soon}}
			v.OCSP = f
			res := v.Verify(chain)
			assert.Equal(t, tc.outcome, res.Outcome())
			assert.Equal(t, tc.asked, f.asked, "each certificate asked about with the verified chain's next CA, never the root")
			want := soon
			if tc.leafOnly {
				want = later
			}
			assert.Equal(t, want, res.Until, "a cached result ends with the first OCSP answer to expire")
		})
	}
	t.Run("not asked for an unverified chain", func(t *testing.T) {
		f := &fakeOCSP{}
		res := (&Verifier{OCSP: f}).Verify(chain)
		assert.False(t, res.Verified)
		assert.Empty(t, f.asked)
	})
}
