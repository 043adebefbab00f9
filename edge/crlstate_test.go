package edge

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/edge/revocation"
)

// TestAccessLogCRLState: the access log says whether the CRLs a verified
// chain was checked against were current, naming the stale issuers.
func TestAccessLogCRLState(t *testing.T) {
	p := newPKI(t)
	now := time.Now()
	current, err := p.inter.CRL(nil, now.Add(-time.Hour), now.Add(time.Hour))
	require.NoError(t, err)
	stale, err := p.inter.CRL(nil, now.Add(-48*time.Hour), now.Add(-time.Hour))
	require.NoError(t, err)
	chain := []*x509.Certificate{p.leaf.Cert, p.inter.Cert}
	for _, tc := range []struct {
		name   string
		crl    []byte
		cover  bool // the root is covered too, without a CRL
		policy revocation.Policy
		peer   []*x509.Certificate
		want   map[string]any
	}{
		{"no CRL applies", nil, false, revocation.FailClosed, chain, map[string]any{"crl": "none"}},
		{"current CRL", current, false, revocation.FailClosed, chain, map[string]any{"crl": "current"}},
		{"stale CRL, closed", stale, false, revocation.FailClosed, chain,
			map[string]any{"crl": "stale", "crl_stale_issuers": []string{"CN=Edge Test Intermediate,O=certsight test,C=US"}}},
		{"stale CRL and an uncovered-yet root, open", stale, true, revocation.FailOpen, chain,
			map[string]any{"crl": "stale", "crl_stale_issuers": []string{"CN=Edge Test Intermediate,O=certsight test,C=US", "CN=Edge Test Root,O=certsight test,C=US"}}},
		{"chain that did not verify: nothing said", current, false, revocation.FailClosed, []*x509.Certificate{p.leaf.Cert}, map[string]any{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := revocation.NewStore(revocation.Options{Issuers: []*x509.Certificate{p.root.Cert, p.inter.Cert}})
			if tc.crl != nil {
				_, err := store.Offer(tc.crl, "test")
				require.NoError(t, err)
			}
			if tc.cover {
				store.Cover(p.root.Cert)
			}
			res := (&Verifier{Roots: p.pool, Revocation: store, Policy: tc.policy}).Verify(tc.peer)
			got := map[string]any{}
			for _, a := range appendCRLState(nil, &res) {
				got[a.Key] = a.Value.Any()
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
