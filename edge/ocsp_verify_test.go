package edge

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/edge/revocation"
)

// fakeOCSP answers status for every certificate and records what it was asked.
type fakeOCSP struct {
	status revocation.OCSPStatus
	until  time.Time
	asked  []*x509.Certificate
}

func (f *fakeOCSP) CheckOCSP(_ context.Context, cert, issuer *x509.Certificate) (revocation.OCSPStatus, time.Time) {
	f.asked = append(f.asked, cert, issuer)
	return f.status, f.until
}

func TestVerifyOCSP(t *testing.T) {
	p := newPKI(t)
	chain := []*x509.Certificate{p.leaf.Cert, p.inter.Cert}
	now := time.Now()
	soon := now.Add(time.Minute)
	goodCRL, err := p.inter.CRL(nil, now.Add(-time.Hour), now.Add(time.Hour))
	require.NoError(t, err)
	cases := []struct {
		name    string
		crl     bool
		status  revocation.OCSPStatus
		policy  revocation.Policy
		outcome string
	}{
		{"good", false, revocation.OCSPGood, revocation.FailClosed, "SUCCESS"},
		{"revoked", false, revocation.OCSPRevoked, revocation.FailOpen, "FAILED:certificate revoked"},
		{"revoked wins over a good CRL", true, revocation.OCSPRevoked, revocation.FailClosed, "FAILED:certificate revoked"},
		{"unknown, fail closed", true, revocation.OCSPUnknown, revocation.FailClosed, "FAILED:OCSP status unknown"},
		{"unknown, fail open", true, revocation.OCSPUnknown, revocation.FailOpen, "SUCCESS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := &Verifier{Roots: p.pool, Policy: tc.policy}
			if tc.crl {
				v.Revocation = revocation.NewStore(revocation.Options{Issuers: []*x509.Certificate{p.root.Cert, p.inter.Cert}})
				_, err := v.Revocation.Offer(goodCRL, "test")
				require.NoError(t, err)
			}
			f := &fakeOCSP{status: tc.status, until: soon}
			v.OCSP = f
			res := v.Verify(chain)
			assert.Equal(t, tc.outcome, res.Outcome())
			require.Len(t, f.asked, 2)
			assert.Equal(t, p.leaf.Cert, f.asked[0], "asks about the leaf")
			assert.Equal(t, p.inter.Cert, f.asked[1], "issued by the verified chain's next CA")
			assert.Equal(t, soon, res.Until, "a cached result ends with the OCSP answer")
		})
	}
	t.Run("not asked for an unverified chain", func(t *testing.T) {
		f := &fakeOCSP{}
		res := (&Verifier{OCSP: f}).Verify(chain)
		assert.False(t, res.Verified)
		assert.Empty(t, f.asked)
	})
}
