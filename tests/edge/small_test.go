package edge_test

import (
	"crypto/x509/pkix"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testpki"
)

func TestControlCharactersInDNAreEscaped(t *testing.T) {
	f := newFixtures(t)
	origin := newEcho(t)
	_, certFile, keyFile := f.issue(t, "evil", testpki.Options{Subject: pkix.Name{CommonName: "evil\r\nX-Injected: 1\x00end"}})
	p := startEdge(t, f, origin.URL, "--client-ca", f.rootPEM, "--workers-headers", "--managed-transform")
	for _, h2 := range []bool{false, true} {
		rec := getJSON(t, client(t, f, certFile, keyFile, h2), p.url("/"))
		assert.Contains(t, rec.Header.Get("X-Cert-Subject-Dn"), `evil\0D\0AX-Injected: 1\00end`)
		assert.Contains(t, rec.Header.Get("Cf-Cert-Subject-Dn"), `\0D\0A`)
		assert.Empty(t, rec.Header.Values("X-Injected"))
		assert.Equal(t, "SUCCESS", rec.Header.Get("X-Cert-Verify"))
	}
}

func TestOriginErrorsAndShutdown(t *testing.T) {
	f := newFixtures(t)
	p := startEdge(t, f, "http://127.0.0.1:1") // nothing listens there
	resp, err := client(t, f, "", "", false).Get(p.url("/down"))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	assert.Contains(t, string(body), "Bad Gateway")
	require.Eventually(t, func() bool { return strings.Contains(p.logs.String(), "origin request failed") }, 5*time.Second, 10*time.Millisecond)
	assert.Contains(t, p.logs.String(), `"host":"`+p.addr+`"`)

	t.Run("requests cut at the shutdown deadline are logged", func(t *testing.T) {
		slow := newSlowOrigin(t, 30*time.Second)
		p := startEdge(t, f, slow.URL, "--shutdown-timeout", "500ms")
		done := make(chan struct{})
		go func() {
			defer close(done)
			if resp, err := client(t, f, "", "", false).Get(p.url("/slow")); err == nil {
				resp.Body.Close()
			}
		}()
		time.Sleep(300 * time.Millisecond) // the request reaches the origin
		needInterrupt(t, p.cmd.Process)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Fatal("edge did not exit")
		}
		<-done
		logged := false
		for _, l := range strings.Split(p.logs.String(), "\n") {
			logged = logged || strings.Contains(l, `"msg":"request"`) && strings.Contains(l, `"path":"/slow"`)
		}
		assert.True(t, logged, "an access-log line for the request cut at the deadline")
	})
}

func TestStartWarnings(t *testing.T) {
	f := newFixtures(t)
	origin := newEcho(t)
	leaky := f.write(t, "leaky.json", []byte(`{"rules": [{"ref": "leak", "expression": "cf.tls_client_auth.cert_presented", "action": "rewrite",
		"action_parameters": {"headers": {"X-Client": {"operation": "set", "expression": "cf.tls_client_auth.cert_rfc9440"}}}}]}`))
	p := startEdge(t, f, origin.URL, "--client-ca", f.rootPEM, "--read-header-timeout", "0", "--rules", leaky)
	logs := p.logs.String()
	assert.Contains(t, logs, "--read-header-timeout 0")
	assert.Contains(t, logs, `"rule":["leak"]`)
	out, err := runEdgeOnce(t, f, origin.URL, "--crl", f.rootPEM)
	require.Error(t, err)
	assert.Contains(t, out, "--crl needs --client-ca")
	out, err = runEdgeOnce(t, f, origin.URL, "--crl-fetch", "ca")
	require.Error(t, err)
	assert.Contains(t, out, "--crl-fetch needs --client-ca")
}
