package edge_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/edge/xfcc"
	"github.com/certsight/certsight/internal/testpki"
	"github.com/certsight/certsight/internal/testtool"
)

// TestXFCCPreset drives --xfcc with curl and Go clients: the origin gets
// exactly one x-forwarded-client-cert, in Envoy's format, for a verified
// certificate, and never a client's copy.
func TestXFCCPreset(t *testing.T) {
	testtool.Need(t, "curl")
	f := newFixtures(t)
	origin := newEcho(t)
	p := startEdge(t, f, origin.URL, "--client-ca", f.rootPEM, "--xfcc")
	forged := []string{"-H", "X-Forwarded-Client-Cert: By=spiffe://evil;Hash=00;URI=spiffe://admin",
		"-H", "X_Forwarded_Client_Cert: Hash=11", "-H", "x-forwarded-client-cert: Hash=22"}

	t.Run("curl with leaf and intermediate", func(t *testing.T) {
		body, err := curl(t, append([]string{"--cacert", f.rootPEM, "--cert", f.leafChain, "--key", f.leafKey, p.url("/x")}, forged...)...)
		require.NoError(t, err, body)
		var rec received
		require.NoError(t, json.Unmarshal([]byte(body), &rec))
		vals := rec.Header.Values("X-Forwarded-Client-Cert")
		require.Len(t, vals, 1, "exactly one x-forwarded-client-cert")
		for k := range rec.Header {
			if k != "X-Forwarded-Client-Cert" {
				assert.NotEqual(t, "x-forwarded-client-cert", folded(k), "alias %s reached the origin", k)
			}
		}
		elems, err := xfcc.Parse(vals[0])
		require.NoError(t, err, vals[0])
		require.Len(t, elems, 1)
		e := elems[0]
		info := cert.NewInfo(f.leaf.Cert)
		assert.Equal(t, info.SHA256, e.Hash)
		assert.Equal(t, string(testpki.CertPEM(f.leaf.Cert)), e.Cert)
		assert.Equal(t, string(testpki.CertPEM(f.leaf.Cert, f.inter.Cert)), e.Chain, "Chain: every presented certificate, leaf first")
		assert.Equal(t, info.Subject, e.Subject)
		assert.Equal(t, []string{}, e.URI, "Envoy writes URI= when there is none")
		assert.True(t, strings.HasPrefix(vals[0], "Hash="+info.SHA256+`;Cert="-----BEGIN%20CERTIFICATE-----%0A`), vals[0])
		certs, err := e.Certificates()
		require.NoError(t, err)
		assert.Equal(t, f.leaf.Cert.Raw, certs[0].Raw)
		// The RFC 9440 default rules still run beside the preset.
		requireClientCert(t, rec.Header, f.leaf.Cert.Raw)
	})
	t.Run("no certificate: the client's copies are removed", func(t *testing.T) {
		body, err := curl(t, append([]string{"--cacert", f.rootPEM, p.url("/x")}, forged...)...)
		require.NoError(t, err, body)
		var rec received
		require.NoError(t, json.Unmarshal([]byte(body), &rec))
		for k := range rec.Header {
			assert.NotEqual(t, "x-forwarded-client-cert", folded(k), k)
		}
	})
	t.Run("untrusted certificate: nothing set", func(t *testing.T) {
		body, err := curl(t, append([]string{"--cacert", f.rootPEM, "--cert", f.strangerChain, "--key", f.strangerKy, p.url("/x")}, forged...)...)
		require.NoError(t, err, body)
		var rec received
		require.NoError(t, json.Unmarshal([]byte(body), &rec))
		assert.Empty(t, rec.Header.Values("X-Forwarded-Client-Cert"))
	})
	for _, h2 := range []bool{false, true} {
		c := client(t, f, f.leafChain, f.leafKey, h2)
		for range 2 {
			req, _ := http.NewRequest("GET", p.url("/go"), nil)
			req.Header.Set("X-Forwarded-Client-Cert", "Hash=forged")
			resp, err := c.Do(req)
			require.NoError(t, err)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			vals := origin.last(t).Header.Values("X-Forwarded-Client-Cert")
			require.Len(t, vals, 1)
			assert.Contains(t, vals[0], "Hash="+cert.NewInfo(f.leaf.Cert).SHA256+";")
		}
	}
}
