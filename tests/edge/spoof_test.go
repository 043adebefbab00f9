package edge_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/cert"
)

// forged marks every spoofed value: base64 of "forged". No header reaching
// the origin may contain it.
const forged = "Zm9yZ2Vk"

// rawRequest sends exact bytes over TLS (with or without the client
// certificate) and returns the status code.
func rawRequest(t *testing.T, f *fixtures, addr string, withCert bool, req string) int {
	t.Helper()
	cfg := &tls.Config{RootCAs: f.pool(), NextProtos: []string{"http/1.1"}}
	if withCert {
		kp, err := tls.LoadX509KeyPair(f.leafChain, f.leafKey)
		require.NoError(t, err)
		cfg.Certificates = []tls.Certificate{kp}
	}
	conn, err := tls.Dial("tcp", addr, cfg)
	require.NoError(t, err)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(conn, req)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// checkClean asserts that the origin's last request (if a new one arrived)
// carries no forged value under any name, and, with a certificate, exactly
// the genuine Client-Cert and Client-Cert-Chain.
func checkClean(t *testing.T, f *fixtures, origin *echo, before int, status int, withCert bool) {
	t.Helper()
	if origin.count() == before {
		// The request was refused before reaching the origin: nothing leaked.
		assert.GreaterOrEqual(t, status, 400, "no request reached the origin, so the edge must have refused it")
		return
	}
	require.Equal(t, 200, status)
	rec := origin.last(t)
	for _, hs := range []http.Header{rec.Header, rec.Trailer} {
		for k, vs := range hs {
			for _, v := range vs {
				assert.NotContains(t, v, forged, "forged value reached the origin as %q", k)
			}
			fk := folded(k)
			if fk == "client-cert" || fk == "client-cert-chain" || strings.HasPrefix(fk, "cf-client-cert-") {
				assert.Contains(t, []string{"Client-Cert", "Client-Cert-Chain"}, k, "alias %q reached the origin", k)
			}
		}
	}
	if withCert {
		assert.Equal(t, []string{cert.EncodeClientCert(f.leaf.Cert.Raw)}, rec.Header.Values("Client-Cert"))
		assert.Equal(t, []string{cert.EncodeClientCert(f.inter.Cert.Raw)}, rec.Header.Values("Client-Cert-Chain"))
	} else {
		assert.Empty(t, rec.Header.Values("Client-Cert"))
		assert.Empty(t, rec.Header.Values("Client-Cert-Chain"))
	}
}

func TestSpoofingMatrix(t *testing.T) {
	f := newFixtures(t)
	origin := newEcho(t)
	p := startEdge(t, f, origin.URL, "--client-ca", f.rootPEM, "--legacy-forwarding", "off")
	bs := ":" + forged + ":"
	h1 := []struct {
		name     string
		withCert bool
		headers  string
		body     string
	}{
		{"exact name", true, "Client-Cert: " + bs + "\r\n", ""},
		{"lower case", true, "client-cert: " + bs + "\r\n", ""},
		{"upper case", true, "CLIENT-CERT: " + bs + "\r\n", ""},
		{"mixed case chain", true, "cLiEnT-cErT-cHaIn: " + bs + "\r\n", ""},
		{"duplicate lines", true, "Client-Cert: " + bs + "\r\nClient-Cert: " + bs + "\r\nclient-cert: " + bs + "\r\n", ""},
		{"underscore alias", true, "Client_Cert: " + bs + "\r\n", ""},
		{"dot alias", true, "Client.Cert: " + bs + "\r\n", ""},
		{"underscore chain alias", true, "client_cert_chain: " + bs + "\r\n", ""},
		{"tilde alias", true, "Client~Cert: " + bs + "\r\n", ""},
		{"mixed aliases", true, "CLIENT_cert.CHAIN: " + bs + "\r\nClient.Cert_Chain: " + bs + "\r\n", ""},
		{"Connection names Client-Cert", true, "Connection: Client-Cert\r\n", ""},
		{"Connection names both, with a forged copy", true, "Connection: keep-alive, Client-Cert, Client-Cert-Chain\r\nClient-Cert: " + bs + "\r\n", ""},
		{"legacy sha256", true, "Cf-Client-Cert-Sha256: " + forged + "\r\n", ""},
		{"legacy der alias", true, "CF_CLIENT_CERT_DER_BASE64: " + forged + "\r\n", ""},
		{"obs-fold continuation", true, "X-Note: a\r\nClient-Cert: " + bs + "\r\n " + bs + "\r\n", ""},
		{"no certificate, forged pair", false, "Client-Cert: " + bs + "\r\nClient-Cert-Chain: " + bs + "\r\n", ""},
		{"no certificate, aliases", false, "Client_Cert: " + bs + "\r\nclient.cert.chain: " + bs + "\r\n", ""},
		{"trailer", true, "Transfer-Encoding: chunked\r\nTrailer: Client-Cert\r\n",
			"5\r\nhello\r\n0\r\nClient-Cert: " + bs + "\r\nClient_Cert: " + bs + "\r\n\r\n"},
	}
	for _, tc := range h1 {
		t.Run("HTTP/1.1 "+tc.name, func(t *testing.T) {
			method := "GET"
			if tc.body != "" {
				method = "POST"
			}
			req := fmt.Sprintf("%s /spoof HTTP/1.1\r\nHost: %s\r\n%sConnection-Test: 1\r\n\r\n%s", method, p.addr, tc.headers, tc.body)
			before := origin.count()
			status := rawRequest(t, f, p.addr, tc.withCert, req)
			checkClean(t, f, origin, before, status, tc.withCert)
		})
	}
	h2 := []struct {
		name     string
		withCert bool
		header   http.Header
	}{
		{"exact name", true, http.Header{"Client-Cert": {bs}, "Client-Cert-Chain": {bs}}},
		{"underscore and dot aliases", true, http.Header{"Client_cert": {bs}, "Client.cert": {bs}, "Client_cert_chain": {bs}}},
		{"repeated values", true, http.Header{"Client-Cert": {bs, bs}}},
		{"legacy names", true, http.Header{"Cf-Client-Cert-Sha256": {forged}, "Cf_client_cert_der_base64": {forged}}},
		{"no certificate", false, http.Header{"Client-Cert": {bs}, "Client_cert": {bs}}},
	}
	for _, tc := range h2 {
		t.Run("HTTP/2 "+tc.name, func(t *testing.T) {
			c := client(t, f, "", "", true)
			if tc.withCert {
				c = client(t, f, f.leafChain, f.leafKey, true)
			}
			req, _ := http.NewRequest("GET", p.url("/spoof"), nil)
			for k, v := range tc.header {
				req.Header[k] = v
			}
			before := origin.count()
			resp, err := c.Do(req)
			require.NoError(t, err)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			require.Equal(t, 2, resp.ProtoMajor)
			checkClean(t, f, origin, before, resp.StatusCode, tc.withCert)
		})
	}
}
