package edge_test

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/internal/testpki"
	"github.com/certsight/certsight/internal/testtool"
)

// logRecords returns the edge's log records with message msg.
func logRecords(t *testing.T, p *proxy, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

const (
	msgReloaded = "configuration reloaded"
	msgRefused  = "reload refused, keeping the running configuration"
)

// handshakeSerial opens a new TLS connection to addr, presenting the
// fixtures' leaf, and returns the server certificate's serial.
func handshakeSerial(t *testing.T, f *fixtures, addr string) string {
	t.Helper()
	kp, err := tls.LoadX509KeyPair(f.leafChain, f.leafKey)
	require.NoError(t, err)
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: f.pool(), Certificates: []tls.Certificate{kp}})
	require.NoError(t, err)
	defer c.Close()
	return cert.NewInfo(c.ConnectionState().PeerCertificates[0]).Serial
}

// newServerCert writes a fresh server certificate and key over the
// fixtures' files (key first, each through a rename) and returns its serial.
func newServerCert(t *testing.T, f *fixtures) string {
	t.Helper()
	srv, err := f.root.ServerCert()
	require.NoError(t, err)
	key, err := testpki.KeyPEM(srv.Key)
	require.NoError(t, err)
	replace(t, f.serverKey, key)
	replace(t, f.serverCert, testpki.CertPEM(srv.Cert))
	return cert.NewInfo(srv.Cert).Serial
}

// loadStats counts one kind of client's requests during the reloads.
type loadStats struct {
	name     string
	requests atomic.Int64
	mu       sync.Mutex
	failures []string
}

func (s *loadStats) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, fmt.Sprintf(format, args...))
}

// TestReloadUnderLoad reloads a running edge 20 times with SIGHUP — a new
// server certificate, CA bundle, CRL and rules each time, and in the middle
// a broken rules file beside a new certificate — while Go clients (new
// handshakes, HTTP/1.1 keep-alive, HTTP/2) and curl send requests without
// pause. Every request must succeed with the client certificate forwarded,
// every good reload must reach new handshakes, and the bad one must change
// nothing and log an ERROR naming the file.
func TestReloadUnderLoad(t *testing.T) {
	testtool.Need(t, "curl")
	f := newRevFixtures(t)
	ca := f.write(t, "clients-ca.pem", testpki.CertPEM(f.root.Cert))
	crl := f.write(t, "inter.crl", f.interCA.crl(t, crlOpts{number: 1}))
	rulesFile := f.write(t, "reload-rules.json", []byte(exposeRules))
	p := startEdge(t, f.fixtures, f.origin.URL, "--client-ca", ca, "--client-intermediates", f.interPEM, "--crl", crl, "--rules", rulesFile,
		"--reload-check-interval", "0", "--crl-check-interval", "1h", "--access-log=false")
	serial := handshakeSerial(t, f.fixtures, p.addr)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	const maxRequests = 5000 // per client: the loop is bounded even if the reloads stall
	goClient := func(name string, keepAlive, h2 bool) *loadStats {
		s := &loadStats{name: name}
		c := client(t, f.fixtures, f.leafChain, f.leafKey, h2)
		c.Transport.(*http.Transport).DisableKeepAlives = !keepAlive
		wg.Go(func() {
			for s.requests.Load() < maxRequests {
				select {
				case <-stop:
					return
				default:
				}
				s.requests.Add(1)
				resp, err := c.Get(p.url("/"))
				if err != nil {
					s.fail("%v", err)
					continue
				}
				var rec received
				err = json.NewDecoder(resp.Body).Decode(&rec)
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch {
				case resp.StatusCode != http.StatusOK:
					s.fail("status %d", resp.StatusCode)
				case err != nil:
					s.fail("body: %v", err)
				case rec.Header.Get("Client-Cert") != cert.EncodeClientCert(f.leaf.Cert.Raw):
					s.fail("client certificate not forwarded: verify %q", rec.Header.Get("X-Cert-Verify"))
				}
			}
		})
		return s
	}
	stats := []*loadStats{
		goClient("Go, new handshake per request", false, false),
		goClient("Go, new handshake per request (2)", false, false),
		goClient("Go, HTTP/1.1 keep-alive", true, false),
		goClient("Go, HTTP/2", true, true),
	}
	curlStats := &loadStats{name: "curl, new process per request"}
	stats = append(stats, curlStats)
	wg.Go(func() {
		for curlStats.requests.Load() < maxRequests {
			select {
			case <-stop:
				return
			default:
			}
			curlStats.requests.Add(1)
			out, err := exec.Command("curl", "-sS", "--fail-with-body", "--cacert", f.rootPEM,
				"--cert", f.leafChain, "--key", f.leafKey, p.url("/")).CombinedOutput()
			switch {
			case err != nil:
				curlStats.fail("curl: %v: %s", err, out)
			case !strings.Contains(string(out), cert.EncodeClientCert(f.leaf.Cert.Raw)):
				curlStats.fail("client certificate not forwarded: %s", out)
			}
		}
	})

	stranger, err := testpki.NewRoot("Reload Extra Root")
	require.NoError(t, err)
	var latencies []time.Duration
	const reloads, bad = 20, 10
	start := time.Now()
	for i := 1; i <= reloads; i++ {
		time.Sleep(100 * time.Millisecond) // let the clients run between reloads
		next := newServerCert(t, f.fixtures)
		bundle := testpki.CertPEM(f.root.Cert)
		if i%2 == 0 { // the CA bundle changes too: another root beside ours
			bundle = testpki.CertPEM(f.root.Cert, stranger.Cert)
		}
		replace(t, ca, bundle)
		replace(t, crl, f.interCA.crl(t, crlOpts{number: int64(i + 1)}))
		if i == bad {
			replace(t, rulesFile, []byte(`{"rules":[{"expression":"cf.tls_client_auth.cert_verified and","action":"rewrite"}]}`))
		} else {
			replace(t, rulesFile, []byte(exposeRules))
		}
		refusedBefore := len(logRecords(t, p, msgRefused))
		sent := time.Now()
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
		if i == bad {
			require.Eventually(t, func() bool { return len(logRecords(t, p, msgRefused)) > refusedBefore },
				10*time.Second, 10*time.Millisecond, "the broken rules file is refused")
			assert.Equal(t, serial, handshakeSerial(t, f.fixtures, p.addr), "a refused reload keeps the running certificate")
			continue
		}
		require.Eventually(t, func() bool { return handshakeSerial(t, f.fixtures, p.addr) == next },
			10*time.Second, 5*time.Millisecond, "reload %d reaches new handshakes", i)
		latencies = append(latencies, time.Since(sent))
		serial = next
		if i%5 == 0 { // curl sees the new certificate too
			out, err := exec.Command("curl", "-sS", "-o", "/dev/null", "-w", "%{certs}", "--cacert", f.rootPEM,
				"--cert", f.leafChain, "--key", f.leafKey, p.url("/")).CombinedOutput()
			require.NoError(t, err, "%s", out)
			// curl prints the serial as OpenSSL does: two lowercase digits a byte.
			assert.Contains(t, string(out), "Serial Number:"+strings.ToLower(next))
		}
	}
	took := time.Since(start)
	close(stop)
	wg.Wait()

	total := int64(0)
	for _, s := range stats {
		n := s.requests.Load()
		total += n
		t.Logf("%-36s %5d requests, %d failed", s.name, n, len(s.failures))
		assert.Empty(t, s.failures[:min(len(s.failures), 5)], "%s: zero failed requests", s.name)
		assert.GreaterOrEqual(t, n, int64(10), "%s kept sending during the reloads", s.name)
	}
	slices.Sort(latencies)
	t.Logf("%d reloads (1 refused) in %v under %d requests; SIGHUP to the new certificate in a new handshake: median %v, max %v",
		reloads, took.Round(time.Millisecond), total, latencies[len(latencies)/2].Round(time.Microsecond), latencies[len(latencies)-1].Round(time.Microsecond))

	assert.Len(t, logRecords(t, p, msgReloaded), reloads-1)
	refused := logRecords(t, p, msgRefused)
	require.Len(t, refused, 1)
	assert.Equal(t, rulesFile, refused[0]["file"], "the ERROR names the file")
	assert.Contains(t, refused[0]["reason"], "loading --rules")
	assert.Equal(t, "ERROR", refused[0]["level"])
}

// TestReloadPolled changes files without a signal: the edge notices them by
// polling. A CA bundle without our root makes a kept-alive connection's
// next request unverified (the connection stays open); a broken bundle is
// refused with an ERROR naming it; the new root's clients verify; a rules
// change applies.
func TestReloadPolled(t *testing.T) {
	f := newFixtures(t)
	origin := newEcho(t)
	ca := f.write(t, "clients-ca.pem", testpki.CertPEM(f.root.Cert))
	rulesFile := f.write(t, "reload-rules.json", []byte(exposeRules))
	maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := startEdge(t, f, origin.URL, "--client-ca", ca, "--rules", rulesFile, "--workers-headers",
		"--reload-check-interval", "20ms", "--metrics-listen", maddr)
	c := client(t, f, f.leafChain, f.leafKey, false)
	require.False(t, keptAliveJSON(t, c, p.url("/"), origin).reused)
	assert.Equal(t, "SUCCESS", origin.last(t).Header.Get("X-Cert-Verify"))

	// A broken bundle is refused; the running trust stays.
	replace(t, ca, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"))
	require.Eventually(t, func() bool { return len(logRecords(t, p, msgRefused)) == 1 }, 10*time.Second, 10*time.Millisecond)
	rec := logRecords(t, p, msgRefused)[0]
	assert.Equal(t, ca, rec["file"])
	assert.Equal(t, "file changed", rec["trigger"])
	r := keptAliveJSON(t, c, p.url("/"), origin)
	assert.True(t, r.reused)
	assert.Equal(t, "SUCCESS", origin.last(t).Header.Get("X-Cert-Verify"))

	// Another root only: the open connection is verified again under it.
	other, err := testpki.NewRoot("Polled Other Root")
	require.NoError(t, err)
	otherLeaf, err := other.Issue(testpki.Options{})
	require.NoError(t, err)
	otherCert := f.write(t, "other.pem", testpki.CertPEM(otherLeaf.Cert))
	otherKey := f.writeKey(t, "other.key", otherLeaf)
	replace(t, ca, testpki.CertPEM(other.Cert))
	require.Eventually(t, func() bool { return len(logRecords(t, p, msgReloaded)) == 1 }, 10*time.Second, 10*time.Millisecond)
	r = keptAliveJSON(t, c, p.url("/"), origin)
	assert.True(t, r.reused, "the open connection was not dropped")
	assert.Equal(t, "FAILED:unable to get local issuer certificate", origin.last(t).Header.Get("X-Cert-Verify"))
	assert.Empty(t, origin.last(t).Header.Values("Client-Cert"))
	keptAliveJSON(t, client(t, f, otherCert, otherKey, false), p.url("/"), origin)
	assert.Equal(t, "SUCCESS", origin.last(t).Header.Get("X-Cert-Verify"), "the new root's clients verify")

	// A rules change: the X-CERT preset stays, the exposing rules go.
	require.NotEmpty(t, origin.last(t).Header.Get("X-Verified"))
	replace(t, rulesFile, []byte(`{"rules":[]}`))
	require.Eventually(t, func() bool { return len(logRecords(t, p, msgReloaded)) == 2 }, 10*time.Second, 10*time.Millisecond)
	keptAliveJSON(t, c, p.url("/"), origin)
	assert.Empty(t, origin.last(t).Header.Get("X-Verified"))

	resp, err := http.Get("http://" + maddr + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Contains(t, string(body), `certsight_edge_reloads_total{result="error"} 1`+"\n")
	assert.Contains(t, string(body), `certsight_edge_reloads_total{result="ok"} 2`+"\n")
}

type keptAliveResult struct{ reused bool }

// keptAliveJSON GETs u with c, checks the answer, and reports whether the
// connection was reused; the origin's last record is what it received.
func keptAliveJSON(t *testing.T, c *http.Client, u string, origin *echo) keptAliveResult {
	t.Helper()
	n := origin.count()
	reused := keptAlive(t, c, u)
	require.Equal(t, n+1, origin.count())
	return keptAliveResult{reused: reused}
}
