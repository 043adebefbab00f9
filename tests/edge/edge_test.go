package edge_test

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/edge"
	"github.com/certsight/certsight/internal/testpki"
	"github.com/certsight/certsight/internal/testtool"
)

// requireClientCert checks that h holds exactly one Client-Cert, ":" + base64(DER) + ":" of want.
func requireClientCert(t *testing.T, h http.Header, want []byte) {
	t.Helper()
	vals := h.Values("Client-Cert")
	require.Len(t, vals, 1, "exactly one Client-Cert")
	der, err := cert.ParseClientCert(vals[0])
	require.NoError(t, err)
	require.Equal(t, want, der, "Client-Cert decodes to the leaf's DER")
	require.Equal(t, ":"+base64.StdEncoding.EncodeToString(want)+":", vals[0])
	// The origin-side parser accepts exactly what the proxy sends.
	leaf, _, err := edge.ClientCertFromHeaders(h)
	require.NoError(t, err)
	require.Equal(t, want, leaf.Raw)
}

// managedNames are the folded names no client copy may reach the origin under.
func folded(name string) string {
	b := []byte(strings.ToLower(name))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = '-'
		}
	}
	return string(b)
}

func TestDefaultRulesGiveRFC9440Values(t *testing.T) {
	testtool.Need(t, "curl")
	f := newFixtures(t)
	origin := newEcho(t)
	p := startEdge(t, f, origin.URL, "--client-ca", f.rootPEM)

	t.Run("curl with leaf and intermediate", func(t *testing.T) {
		body, err := curl(t, "--cacert", f.rootPEM, "--cert", f.leafChain, "--key", f.leafKey, p.url("/hello"))
		require.NoError(t, err, body)
		var rec received
		require.NoError(t, json.Unmarshal([]byte(body), &rec))
		requireClientCert(t, rec.Header, f.leaf.Cert.Raw)
		chain, err := cert.ParseClientCertChain(rec.Header.Get("Client-Cert-Chain"))
		require.NoError(t, err)
		require.Equal(t, [][]byte{f.inter.Cert.Raw}, chain)
		assert.Equal(t, "/hello", rec.Path)
	})
	t.Run("curl without a certificate", func(t *testing.T) {
		body, err := curl(t, "--cacert", f.rootPEM, "-H", "Client-Cert: :Zm9v:", p.url("/"))
		require.NoError(t, err, body)
		var rec received
		require.NoError(t, json.Unmarshal([]byte(body), &rec))
		assert.Empty(t, rec.Header.Values("Client-Cert"))
		assert.Empty(t, rec.Header.Values("Client-Cert-Chain"))
	})
	t.Run("curl with an untrusted certificate", func(t *testing.T) {
		body, err := curl(t, "--cacert", f.rootPEM, "--cert", f.strangerChain, "--key", f.strangerKy, p.url("/"))
		require.NoError(t, err, body)
		var rec received
		require.NoError(t, json.Unmarshal([]byte(body), &rec))
		assert.Empty(t, rec.Header.Values("Client-Cert"))
	})
	t.Run("curl with the leaf alone (intermediate missing)", func(t *testing.T) {
		body, err := curl(t, "--cacert", f.rootPEM, "--cert", f.leafAlone, "--key", f.leafKey, p.url("/"))
		require.NoError(t, err, body)
		var rec received
		require.NoError(t, json.Unmarshal([]byte(body), &rec))
		assert.Empty(t, rec.Header.Values("Client-Cert"), "an unverifiable chain forwards nothing")
	})
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("Go client h2=%v, several requests on one connection", h2), func(t *testing.T) {
			c := client(t, f, f.leafChain, f.leafKey, h2)
			for i := range 3 {
				resp, err := c.Get(p.url(fmt.Sprintf("/r%d", i)))
				require.NoError(t, err)
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				require.Equal(t, 200, resp.StatusCode)
				if h2 {
					require.Equal(t, 2, resp.ProtoMajor)
				}
				rec := origin.last(t)
				requireClientCert(t, rec.Header, f.leaf.Cert.Raw)
				require.Equal(t, cert.EncodeClientCert(f.inter.Cert.Raw), rec.Header.Get("Client-Cert-Chain"))
			}
		})
	}
	t.Run("Go client over TLS 1.2", func(t *testing.T) {
		c := client(t, f, f.leafChain, f.leafKey, false)
		c.Transport.(*http.Transport).TLSClientConfig.MaxVersion = tls.VersionTLS12
		resp, err := c.Get(p.url("/tls12"))
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, uint16(tls.VersionTLS12), resp.TLS.Version)
		requireClientCert(t, origin.last(t).Header, f.leaf.Cert.Raw)
	})
	t.Run("healthz answers without reaching the origin", func(t *testing.T) {
		n := origin.count()
		body, err := curl(t, "--cacert", f.rootPEM, p.url("/healthz"))
		require.NoError(t, err)
		assert.Equal(t, "ok\n", body)
		assert.Equal(t, n, origin.count())
	})
	t.Run("access log has the outcome but no certificate body", func(t *testing.T) {
		logs := p.logs.String()
		assert.Contains(t, logs, `"cert_verify":"SUCCESS"`)
		assert.Contains(t, logs, `"cert_verify":"FAILED:unable to get local issuer certificate"`)
		assert.Contains(t, logs, cert.NewInfo(f.leaf.Cert).SHA256)
		assert.NotContains(t, logs, base64.StdEncoding.EncodeToString(f.leaf.Cert.Raw)[:40])
	})
	t.Run("SIGTERM (Windows: CTRL_BREAK) shuts down gracefully", func(t *testing.T) {
		needInterrupt(t, p.cmd.Process)
		select {
		case err := <-p.done:
			require.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Fatal("no exit after SIGTERM")
		}
	})
}

// exposeRules is a Cloudflare ruleset (as the API returns it) that keeps the
// default RFC 9440 rules and also exposes some fields, so tests can see them.
const exposeRules = `{
  "result": {
    "id": "0ab1c2d3e4f5061728394a5b6c7d8e9f",
    "name": "default",
    "kind": "zone",
    "phase": "http_request_late_transform",
    "version": "3",
    "rules": [
      {"id": "1", "ref": "r1", "version": "1", "description": "Remove Client-Cert", "expression": "true",
       "action": "rewrite", "action_parameters": {"headers": {"Client-Cert": {"operation": "remove"}}}, "enabled": true,
       "last_updated": "2026-03-25T10:00:00.000000Z"},
      {"id": "2", "ref": "r2", "version": "1", "description": "Remove Client-Cert-Chain", "expression": "true",
       "action": "rewrite", "action_parameters": {"headers": {"Client-Cert-Chain": {"operation": "remove"}}}, "enabled": true,
       "last_updated": "2026-03-25T10:00:00.000000Z"},
      {"id": "3", "ref": "r3", "version": "1", "description": "Set Client-Cert",
       "expression": "cf.tls_client_auth.cert_verified and not cf.tls_client_auth.cert_revoked and not cf.tls_client_auth.cert_rfc9440_too_large",
       "action": "rewrite", "action_parameters": {"headers": {"Client-Cert": {"operation": "set", "expression": "cf.tls_client_auth.cert_rfc9440"}}},
       "enabled": true, "last_updated": "2026-03-25T10:00:00.000000Z"},
      {"id": "4", "ref": "r4", "version": "1", "description": "Set Client-Cert-Chain",
       "expression": "cf.tls_client_auth.cert_verified and not cf.tls_client_auth.cert_revoked and cf.tls_client_auth.cert_chain_rfc9440 ne \"\" and not cf.tls_client_auth.cert_chain_rfc9440_too_large",
       "action": "rewrite", "action_parameters": {"headers": {"Client-Cert-Chain": {"operation": "set", "expression": "cf.tls_client_auth.cert_chain_rfc9440"}}},
       "enabled": true, "last_updated": "2026-03-25T10:00:00.000000Z"},
      {"id": "5", "ref": "r5", "version": "1", "description": "Expose fields", "expression": "cf.tls_client_auth.cert_presented",
       "action": "rewrite", "action_parameters": {"headers": {
         "X-Revoked": {"operation": "set", "expression": "cf.tls_client_auth.cert_revoked"},
         "X-Verified": {"operation": "set", "expression": "cf.tls_client_auth.cert_verified"},
         "X-Too-Large": {"operation": "set", "expression": "cf.tls_client_auth.cert_rfc9440_too_large"},
         "X-Subject": {"operation": "set", "expression": "cf.tls_client_auth.cert_subject_dn_legacy"},
         "X-Issuer-Serial": {"operation": "set", "expression": "cf.tls_client_auth.cert_issuer_serial"},
         "X-Static": {"operation": "set", "value": "mtls"}}},
       "enabled": true, "last_updated": "2026-03-25T10:00:00.000000Z"},
      {"id": "6", "ref": "r6", "version": "1", "description": "Disabled rule", "expression": "true",
       "action": "rewrite", "action_parameters": {"headers": {"X-Disabled": {"operation": "set", "value": "on"}}},
       "enabled": false, "last_updated": "2026-03-25T10:00:00.000000Z"}
    ],
    "last_updated": "2026-03-25T10:00:00.000000Z"
  },
  "success": true,
  "errors": [],
  "messages": []
}`

func getJSON(t *testing.T, c *http.Client, u string) received {
	t.Helper()
	resp, err := c.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	var rec received
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rec))
	io.Copy(io.Discard, resp.Body) // to EOF, so the connection is kept alive
	return rec
}

func TestCloudflareRulesetLoadsAndActs(t *testing.T) {
	f := newFixtures(t)
	origin := newEcho(t)
	rulesFile := f.write(t, "rules.json", []byte(exposeRules))
	p := startEdge(t, f, origin.URL, "--client-ca", f.rootPEM, "--rules", rulesFile)
	rec := getJSON(t, client(t, f, f.leafChain, f.leafKey, false), p.url("/"))
	requireClientCert(t, rec.Header, f.leaf.Cert.Raw)
	assert.Equal(t, "false", rec.Header.Get("X-Revoked"))
	assert.Equal(t, "true", rec.Header.Get("X-Verified"))
	assert.Equal(t, "/C=US/O=Access/OU=Access Admins/CN=James Royal", rec.Header.Get("X-Subject"))
	assert.Equal(t, cert.SerialHex(f.inter.Cert), rec.Header.Get("X-Issuer-Serial"))
	assert.Equal(t, "mtls", rec.Header.Get("X-Static"))
	assert.Empty(t, rec.Header.Get("X-Disabled"))

	// A client-sent copy of a header the rules manage is removed too.
	req, _ := http.NewRequest("GET", p.url("/"), nil)
	req.Header.Set("X-Static", "forged")
	req.Header["X_static"] = []string{"forged"}
	resp, err := client(t, f, "", "", false).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	got := origin.last(t)
	for k := range got.Header {
		assert.NotEqual(t, "x-static", folded(k), "client copy %s reached the origin", k)
	}

	t.Run("a broken ruleset is refused at start with its JSON path", func(t *testing.T) {
		bad := f.write(t, "bad.json", []byte(`{"rules":[{"expression":"cf.tls_client_auth.cert_verifed","action":"rewrite","action_parameters":{"headers":{"A":{"operation":"remove"}}}}]}`))
		out, err := runEdgeOnce(t, f, origin.URL, "--rules", bad)
		require.Error(t, err)
		assert.Contains(t, out, "rules[0]")
	})
}

func runEdgeOnce(t *testing.T, f *fixtures, origin string, extra ...string) (string, error) {
	t.Helper()
	args := append([]string{"--listen", "127.0.0.1:0", "--tls-cert", f.serverCert, "--tls-key", f.serverKey, "--origin", origin}, extra...)
	cmd := execCommand(edgeBin, args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestOversizedCertificate(t *testing.T) {
	testtool.Need(t, "curl")
	f := newFixtures(t)
	origin := newEcho(t)
	big, bigCert, bigKey := f.issue(t, "big", testpki.Options{Padding: 9000})
	require.Greater(t, len(cert.EncodeClientCert(big.Cert.Raw)), cert.MaxClientCertLen)
	rulesFile := f.write(t, "rules.json", []byte(exposeRules))
	p := startEdge(t, f, origin.URL, "--client-ca", f.rootPEM, "--rules", rulesFile)
	body, err := curl(t, "--cacert", f.rootPEM, "--cert", bigCert, "--key", bigKey, p.url("/"))
	require.NoError(t, err, body)
	var rec received
	require.NoError(t, json.Unmarshal([]byte(body), &rec))
	assert.Equal(t, "true", rec.Header.Get("X-Verified"))
	assert.Equal(t, "true", rec.Header.Get("X-Too-Large"))
	assert.Empty(t, rec.Header.Values("Client-Cert"))
	assert.Empty(t, rec.Header.Values("Client-Cert-Chain"), "no chain without Client-Cert")
}

func TestLegacyForwardingPerHostname(t *testing.T) {
	testtool.Need(t, "curl")
	f := newFixtures(t)
	origin := newEcho(t)
	settings := f.write(t, "settings.json", []byte(`{"settings":[{"hostname":"app.example.com","china_network":false,"client_certificate_forwarding":true},{"hostname":"other.example.com","client_certificate_forwarding":false}]}`))
	sha := cert.NewInfo(f.leaf.Cert).SHA256
	for _, mode := range []string{"", "first-request", "every-request"} {
		t.Run("mode "+mode, func(t *testing.T) {
			args := []string{"--client-ca", f.rootPEM, "--hostname-settings", settings}
			if mode != "" {
				args = append(args, "--legacy-forwarding", mode)
			}
			p := startEdge(t, f, origin.URL, args...)
			port := p.addr[strings.LastIndexByte(p.addr, ':')+1:]
			n := origin.count()
			// Two requests on one connection (curl reuses it), then a host without forwarding.
			out, err := curl(t, "--cacert", f.rootPEM, "--cert", f.leafChain, "--key", f.leafKey,
				"--resolve", "app.example.com:"+port+":127.0.0.1", "--resolve", "other.example.com:"+port+":127.0.0.1",
				"-H", "Cf-Client-Cert-Sha256: forged",
				"https://app.example.com:"+port+"/1", "https://app.example.com:"+port+"/2", "https://other.example.com:"+port+"/3")
			require.NoError(t, err, out)
			origin.mu.Lock()
			reqs := append([]received(nil), origin.reqs[n:]...)
			origin.mu.Unlock()
			require.Len(t, reqs, 3)
			assert.Equal(t, []string{sha}, reqs[0].Header.Values("Cf-Client-Cert-Sha256"))
			der, err := base64.StdEncoding.DecodeString(reqs[0].Header.Get("Cf-Client-Cert-Der-Base64"))
			require.NoError(t, err)
			assert.Equal(t, f.leaf.Cert.Raw, der)
			if mode != "every-request" { // first-request, also the default with a settings file
				assert.Empty(t, reqs[1].Header.Values("Cf-Client-Cert-Sha256"))
			} else {
				assert.Equal(t, []string{sha}, reqs[1].Header.Values("Cf-Client-Cert-Sha256"))
			}
			assert.Empty(t, reqs[2].Header.Values("Cf-Client-Cert-Sha256"), "hostname without forwarding")
			assert.Empty(t, reqs[2].Header.Values("Cf-Client-Cert-Der-Base64"))
		})
	}
}

func TestConfigFile(t *testing.T) {
	f := newFixtures(t)
	origin := newEcho(t)
	cfg := map[string]any{
		"listen": "127.0.0.1:0", "tls-cert": f.serverCert, "tls-key": f.serverKey, "client-ca": f.rootPEM,
		"origin": origin.URL, "client-auth": "verify-if-given", "workers-headers": true, "tls-min-version": "1.3",
		"read-header-timeout": "5s", "idle-timeout": "30s",
	}
	data, _ := json.Marshal(cfg)
	cfgFile := f.write(t, "edge.json", data)
	p := startEdgeArgs(t, "--flags-file", cfgFile)
	rec := getJSON(t, client(t, f, f.leafChain, f.leafKey, true), "https://"+p.addr+"/")
	requireClientCert(t, rec.Header, f.leaf.Cert.Raw)
	assert.Equal(t, "SUCCESS", rec.Header.Get("X-Cert-Verify"))
	assert.Equal(t, cert.NewInfo(f.leaf.Cert).SHA1, rec.Header.Get("X-Cert-Finger"))

	// TLS 1.2 is refused with tls-min-version 1.3.
	c := client(t, f, f.leafChain, f.leafKey, false)
	c.Transport.(*http.Transport).TLSClientConfig.MaxVersion = tls.VersionTLS12
	_, err := c.Get("https://" + p.addr + "/")
	require.Error(t, err)

	// --config, the flag's old name, still reads the same file.
	bad := f.write(t, "bad.json", []byte(`{"listen":"127.0.0.1:0","colour":"blue"}`))
	out, err := execCommand(edgeBin, "--config", bad).CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), `unknown key "colour"`)
	assert.Contains(t, string(out), "use --flags-file")
}

// startEdgeArgs runs certsight-edge with exactly args.
func startEdgeArgs(t *testing.T, args ...string) *proxy {
	t.Helper()
	cmd := execCommand(edgeBin, args...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &proxy{cmd: cmd, logs: &testtool.SyncBuffer{}, done: make(chan error, 1)}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.logs.Write([]byte(sc.Text() + "\n"))
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "certsight-edge listening" {
				addrc <- rec.Addr
			}
		}
		p.done <- cmd.Wait()
	}()
	select {
	case p.addr = <-addrc:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("no start:\n%s", p.logs.String())
	}
	t.Cleanup(func() {
		if interrupt(cmd.Process) != nil {
			cmd.Process.Kill()
		}
		<-p.done
	})
	return p
}
