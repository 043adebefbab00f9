package edge_test

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testpki"
	"github.com/certsight/certsight/internal/testtool"
)

// crlSite is nginx serving a directory of CRLs over plain HTTP on loopback,
// as a CA's distribution point does: ETag, Last-Modified and 304s are
// nginx's own, and its access log shows what the edge asked.
type crlSite struct {
	base    string // http://127.0.0.1:PORT
	docroot string
	access  string // nginx's access log
}

func startCRLSite(t *testing.T) *crlSite {
	t.Helper()
	nginx := testtool.Need(t, "nginx")
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	s := &crlSite{docroot: filepath.Join(dir, "www"), access: filepath.Join(dir, "access.log")}
	require.NoError(t, os.Mkdir(s.docroot, 0o755))
	port := freePort(t)
	s.base = "http://127.0.0.1:" + strconv.Itoa(port)
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers must read the temp dir
	}
	conf := fmt.Sprintf(`%s
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 64; }
http {
    access_log %[3]s;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    types { application/pkix-crl crl; }
    server {
        listen 127.0.0.1:%[4]d;
        root %[5]s;
    }
}
`, user, dir, s.access, port, s.docroot)
	confPath := filepath.Join(dir, "nginx.conf")
	require.NoError(t, os.WriteFile(confPath, []byte(conf), 0o644))
	runNginx(t, nginx, dir, confPath, port)
	return s
}

// publish writes a CRL where nginx serves it, atomically as a publisher
// should.
func (s *crlSite) publish(t *testing.T, name string, data []byte) {
	t.Helper()
	p := filepath.Join(s.docroot, name)
	require.NoError(t, os.WriteFile(p+".tmp", data, 0o644))
	require.NoError(t, os.Rename(p+".tmp", p))
}

// statuses returns the HTTP statuses nginx logged for path, in order.
func (s *crlSite) statuses(t *testing.T, path string) []string {
	t.Helper()
	data, _ := os.ReadFile(s.access)
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		// combined format: … "GET /inter.crl HTTP/1.1" 304 0 …
		if i := strings.Index(line, `"GET `+path+` `); i >= 0 {
			if f := strings.Fields(line[i:]); len(f) > 3 {
				out = append(out, f[3])
			}
		}
	}
	return out
}

// fetchPKI is a client PKI whose certificates name the site's CRLs: the
// intermediate names /root.crl, the leaves /inter.crl. Its CRLs are made
// by openssl ca.
type fetchPKI struct {
	*fixtures
	site                          *crlSite
	root, inter                   *testpki.Authority
	good, revoked                 *testpki.Leaf
	rootPEM                       string
	goodCert, goodKey             string
	revokedCert, revokedKey       string
	interCA, rootCA               *opensslCA
	interName                     string
	origin                        *echo
	interCRLNumber, rootCRLNumber int64
}

func newFetchPKI(t *testing.T) *fetchPKI {
	t.Helper()
	needOpenSSL(t)
	f := &fetchPKI{fixtures: newFixtures(t), site: startCRLSite(t), origin: newEcho(t)}
	var err error
	f.root, err = testpki.NewRoot("Fetch E2E Root CA")
	require.NoError(t, err)
	f.inter, err = f.root.NewIntermediateWith("Fetch E2E Intermediate CA", testpki.Options{CRLDistributionPoints: []string{f.site.base + "/root.crl"}})
	require.NoError(t, err)
	f.interName = "CN=Fetch E2E Intermediate CA,O=certsight test,C=US"
	issue := func(cn string) (*testpki.Leaf, string, string) {
		l, err := f.inter.Issue(testpki.Options{Subject: pkix.Name{CommonName: cn},
			CRLDistributionPoints: []string{"ldap://ldap.invalid/cn=Fetch%20E2E%20Intermediate%20CA", f.site.base + "/inter.crl"}})
		require.NoError(t, err)
		return l, f.write(t, cn+".pem", testpki.CertPEM(l.Cert, f.inter.Cert)), f.writeKey(t, cn+".key", l)
	}
	f.good, f.goodCert, f.goodKey = issue("fetch-good")
	f.revoked, f.revokedCert, f.revokedKey = issue("fetch-revoked")
	f.rootPEM = f.write(t, "fetch-root.pem", testpki.CertPEM(f.root.Cert))
	f.interCA = newOpenSSLCA(t, f.write(t, "fetch-inter.pem", testpki.CertPEM(f.inter.Cert)), f.writeKey(t, "fetch-inter.key", &testpki.Leaf{Cert: f.inter.Cert, Key: f.inter.Key}))
	f.rootCA = newOpenSSLCA(t, f.rootPEM, f.writeKey(t, "fetch-root.key", &testpki.Leaf{Cert: f.root.Cert, Key: f.root.Key}))
	return f
}

// publish makes fresh openssl CRLs (DER, as RFC 5280 wants at an http
// distribution point) revoking serials under the intermediate.
func (f *fetchPKI) publish(t *testing.T, serials ...*big.Int) {
	t.Helper()
	f.interCRLNumber++
	f.rootCRLNumber++
	f.site.publish(t, "inter.crl", f.interCA.crl(t, crlOpts{number: f.interCRLNumber, revoked: serials, der: true}))
	f.site.publish(t, "root.crl", f.rootCA.crl(t, crlOpts{number: f.rootCRLNumber, der: true}))
}

func (f *fetchPKI) start(t *testing.T, extra ...string) *proxy {
	t.Helper()
	return startEdge(t, f.fixtures, f.origin.URL, append([]string{"--client-ca", f.rootPEM, "--workers-headers"}, extra...)...)
}

// verify asks through the edge with a fresh connection and returns what
// the origin was told certVerified is.
func (f *fetchPKI) verify(t *testing.T, p *proxy, cert, key string) string {
	t.Helper()
	return getJSON(t, client(t, f.fixtures, cert, key, false), p.url("/")).Header.Get("X-Cert-Verify")
}

// logged waits for the edge to log want: the access-log line of a request
// is written after its response went out.
func logged(t *testing.T, p *proxy, want string, msgAndArgs ...any) {
	t.Helper()
	if !assert.Eventually(t, func() bool { return strings.Contains(p.logs.String(), want) }, 5*time.Second, 10*time.Millisecond, msgAndArgs...) {
		t.Logf("wanted in the log: %s", want)
	}
}

// stop ends an edge, gracefully where the platform can ask for it (what
// the tests need from it is on disk already).
func stop(t *testing.T, p *proxy) {
	t.Helper()
	if interrupt(p.cmd.Process) != nil {
		p.cmd.Process.Kill()
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		t.Fatal("certsight-edge did not stop")
	}
}

func TestCRLFetch(t *testing.T) {
	f := newFetchPKI(t)

	t.Run("the distribution points' CRLs revoke; the access log and metrics say so", func(t *testing.T) {
		f.publish(t, f.revoked.Cert.SerialNumber)
		maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		p := f.start(t, "--crl-fetch", "--metrics-listen", maddr)
		assert.Equal(t, "FAILED:certificate revoked", f.verify(t, p, f.revokedCert, f.revokedKey))
		assert.Equal(t, "SUCCESS", f.verify(t, p, f.goodCert, f.goodKey))
		logged(t, p, `"crl":"current"`)
		logs := p.logs.String()
		assert.Contains(t, logs, `"msg":"CRL accepted","issuer":"`+f.interName+`","source":"`+f.site.base+`/inter.crl"`)
		assert.Equal(t, 1, strings.Count(logs, "only http:// URLs are fetched"), "the ldap URL is logged once")
		m := scrape(t, maddr)
		assert.Contains(t, m, `certsight_edge_revocation_fetches_total{kind="crl",result="ok"} 2`)
		assert.Contains(t, m, `certsight_edge_crl_current{issuer="`+f.interName+`"} 1`)
		assert.Equal(t, []string{"200"}, f.site.statuses(t, "/inter.crl"), "one fetch for every handshake since")
		resp, err := client(t, f.fixtures, "", "", false).Get(p.url("/healthz"))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Regexp(t, `^ok\n(current revocation data: CN=Fetch E2E (Root|Intermediate) CA,O=certsight test,C=US \(next update 20\d\d-\d\d-\d\dT[0-9:]+Z\)\n){2}$`, string(body))
	})

	t.Run("--flags-file: true means all", func(t *testing.T) {
		data, err := json.Marshal(map[string]any{"client-ca": f.rootPEM, "workers-headers": true, "crl-fetch": true})
		require.NoError(t, err)
		p := startEdge(t, f.fixtures, f.origin.URL, "--flags-file", f.write(t, "fetch-flags.json", data))
		assert.Equal(t, "FAILED:certificate revoked", f.verify(t, p, f.revokedCert, f.revokedKey))
		assert.Contains(t, p.logs.String(), `"crl_fetch":"all"`)
	})

	t.Run("a down distribution point falls under --revocation-fail", func(t *testing.T) {
		require.NoError(t, os.Remove(filepath.Join(f.site.docroot, "inter.crl")))
		for _, tc := range []struct{ policy, verdict string }{
			{"closed", "FAILED:CRL has expired"},
			{"open", "SUCCESS"},
		} {
			p := f.start(t, "--crl-fetch", "all", "--revocation-fail", tc.policy, "--crl-fetch-wait", "500ms")
			assert.Equal(t, tc.verdict, f.verify(t, p, f.goodCert, f.goodKey), tc.policy)
			logged(t, p, `"crl":"stale","crl_stale_issuers":["`+f.interName+`"]`, tc.policy)
			logs := p.logs.String()
			assert.Contains(t, logs, `"msg":"CRL fetch failed; the last accepted CRL stays in use","url":"`+f.site.base+`/inter.crl","err":"`+f.site.base+`/inter.crl: HTTP status 404 Not Found"`)
			resp, err := client(t, f.fixtures, "", "", false).Get(p.url("/healthz"))
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Contains(t, string(body), f.interName)
			assert.Contains(t, string(body), "current revocation data: CN=Fetch E2E Root CA", "the root's CRL is still served")
			if tc.policy == "closed" {
				assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			} else {
				assert.Equal(t, http.StatusOK, resp.StatusCode)
			}
		}
	})

	t.Run("refreshes are conditional GETs and bring new revocations to open connections", func(t *testing.T) {
		f.publish(t)
		before := len(f.site.statuses(t, "/inter.crl"))
		p := f.start(t, "--crl-fetch", "--crl-refresh-max", "1s")
		c := client(t, f.fixtures, f.goodCert, f.goodKey, false)
		assert.Equal(t, "SUCCESS", getJSON(t, c, p.url("/")).Header.Get("X-Cert-Verify"))
		require.Eventually(t, func() bool {
			return slices.Contains(f.site.statuses(t, "/inter.crl")[before:], "304")
		}, 10*time.Second, 50*time.Millisecond, "nginx answers the refresh with 304")
		f.publish(t, f.good.Cert.SerialNumber) // the CA revokes it
		require.Eventually(t, func() bool {
			return getJSON(t, c, p.url("/")).Header.Get("X-Cert-Verify") == "FAILED:certificate revoked"
		}, 10*time.Second, 100*time.Millisecond, "the kept-alive connection follows the new CRL")
		assert.NotContains(t, p.logs.String(), `"level":"WARN","msg":"CRL fetch failed`)
	})

	t.Run("the cache carries a restart with the distribution points down, and refuses tampering", func(t *testing.T) {
		f.publish(t, f.revoked.Cert.SerialNumber)
		cache := filepath.Join(t.TempDir(), "crl-cache")
		p := f.start(t, "--crl-fetch", "--crl-cache", cache)
		assert.Equal(t, "FAILED:certificate revoked", f.verify(t, p, f.revokedCert, f.revokedKey))
		stop(t, p)
		entries, err := filepath.Glob(filepath.Join(cache, "*.crl"))
		require.NoError(t, err)
		require.Len(t, entries, 2)
		for _, e := range entries { // openssl reads the cache
			out, err := exec.Command("openssl", "crl", "-inform", "DER", "-in", e, "-noout", "-issuer").CombinedOutput()
			require.NoError(t, err, "%s", out)
			assert.Contains(t, string(out), "Fetch E2E")
		}
		require.NoError(t, os.Remove(filepath.Join(f.site.docroot, "inter.crl")))
		require.NoError(t, os.Remove(filepath.Join(f.site.docroot, "root.crl")))

		p = f.start(t, "--crl-fetch", "--crl-cache", cache, "--crl-fetch-wait", "200ms")
		assert.Equal(t, "FAILED:certificate revoked", f.verify(t, p, f.revokedCert, f.revokedKey))
		assert.Equal(t, "SUCCESS", f.verify(t, p, f.goodCert, f.goodKey))
		assert.Contains(t, p.logs.String(), `"msg":"CRL cache loaded","dir":"`+cache+`","entries":2,"accepted":2`)
		stop(t, p)

		for _, e := range entries {
			data, err := os.ReadFile(e)
			require.NoError(t, err)
			data[len(data)-3] ^= 0x55 // inside the signature
			require.NoError(t, os.WriteFile(e, data, 0o600))
		}
		p = f.start(t, "--crl-fetch", "--crl-cache", cache, "--crl-fetch-wait", "200ms")
		assert.Equal(t, "FAILED:CRL has expired", f.verify(t, p, f.revokedCert, f.revokedKey), "nothing current: closed")
		logs := p.logs.String()
		assert.Contains(t, logs, `"accepted":0`)
		assert.Equal(t, 2, strings.Count(logs, "CRL cache entry refused; its distribution point is fetched again"))
	})
}

// TestCRLFetchLatency measures what fetching adds to a request on a new
// connection: the first one through an issuer (the handshake waits for the
// CRLs from nginx on loopback), the following ones (CRLs in memory), and an
// edge without --crl-fetch; with a small CRL and one of 10,000 entries.
func TestCRLFetchLatency(t *testing.T) {
	f := newFetchPKI(t)
	many := make([]*big.Int, 10000)
	for i := range many {
		many[i] = big.NewInt(int64(1_000_000 + i))
	}
	timeGet := func(p *proxy) time.Duration {
		kp, err := tls.LoadX509KeyPair(f.goodCert, f.goodKey)
		require.NoError(t, err)
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.pool(), Certificates: []tls.Certificate{kp}}, DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		t0 := time.Now()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(p.url("/"))
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		return d
	}
	median := func(ds []time.Duration) time.Duration {
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	const runs, later = 5, 10
	var baseline []time.Duration
	p := f.start(t)
	for range runs * later {
		baseline = append(baseline, timeGet(p))
	}
	stop(t, p)
	for _, size := range []struct {
		name   string
		serial []*big.Int
	}{{"1 entry", many[:1]}, {"10000 entries", many}} {
		f.publish(t, size.serial...)
		st, err := os.Stat(filepath.Join(f.site.docroot, "inter.crl"))
		require.NoError(t, err)
		var first, cached []time.Duration
		for range runs {
			p := f.start(t, "--crl-fetch", "--access-log=false")
			first = append(first, timeGet(p))
			for range later {
				cached = append(cached, timeGet(p))
			}
			assert.NotContains(t, p.logs.String(), "CRL fetch failed")
			stop(t, p)
		}
		assert.Less(t, median(first), 2*time.Second, "the first wait is bounded by --crl-fetch-wait")
		t.Logf("CRL of %s (%d bytes DER): request on a new connection, median of %d: first through the issuer %v, later %v (n=%d), without --crl-fetch %v (n=%d)",
			size.name, st.Size(), runs, median(first), median(cached), len(cached), median(baseline), len(baseline))
	}
}
