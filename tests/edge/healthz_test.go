package edge_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testpki"
)

// TestHealthzStaleRevocation: under --revocation-fail closed an edge whose
// CRL for a covered issuer is past nextUpdate leaves rotation (503); under
// open it stays in (200) and says so.
func TestHealthzStaleRevocation(t *testing.T) {
	f := newFixtures(t)
	origin := newEcho(t)
	der, err := f.inter.CRL(nil, time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour))
	require.NoError(t, err)
	stale := f.write(t, "stale.crl", testpki.CRLPEM(der))
	fresh, err := f.inter.CurrentCRL()
	require.NoError(t, err)
	current := f.write(t, "current.crl", testpki.CRLPEM(fresh))
	get := func(p *proxy) (int, string) {
		c := client(t, f, "", "", false)
		resp, err := c.Get(p.url("/healthz"))
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		body   string
	}{
		{"current CRL", []string{"--crl", current}, http.StatusOK, "ok\n"},
		{"stale CRL, closed", []string{"--crl", stale}, http.StatusServiceUnavailable, "stale revocation data: CN=E2E Intermediate CA"},
		{"stale CRL, open", []string{"--crl", stale, "--revocation-fail", "open"}, http.StatusOK, "stale revocation data (--revocation-fail open)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startEdge(t, f, origin.URL, append([]string{"--client-ca", f.rootPEM, "--client-intermediates", f.interPEM}, tc.args...)...)
			status, body := get(p)
			assert.Equal(t, tc.status, status, body)
			assert.Contains(t, body, tc.body)
		})
	}
}
