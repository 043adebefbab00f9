package edge_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// longChain is a self-signed P-521 leaf plus n extra self-signed P-521
// certificates, as a client would present them.
func longChain(t *testing.T, n int) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	require.NoError(t, err)
	mk := func(i int) []byte {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: fmt.Sprintf("chain %d", i)},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		require.NoError(t, err)
		return der
	}
	c := tls.Certificate{PrivateKey: key}
	for i := 0; i <= n; i++ {
		c.Certificate = append(c.Certificate, mk(i))
	}
	return c
}

// cpuOf returns the user+system CPU time a process used so far.
func cpuOf(t *testing.T, pid int) time.Duration {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Skipf("SKIP: no /proc: %v", err)
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

func TestChainLimits(t *testing.T) {
	f := newFixtures(t)
	origin := newEcho(t)
	chain := longChain(t, 400)
	size := 0
	for _, d := range chain.Certificate {
		size += len(d)
	}
	t.Logf("chain: %d certificates, %d bytes", len(chain.Certificate), size)
	handshakes := func(p *proxy, n int) (time.Duration, error) {
		before := cpuOf(t, p.cmd.Process.Pid)
		var last error
		for range n {
			conn, err := tls.Dial("tcp", p.addr, &tls.Config{RootCAs: f.pool(), Certificates: []tls.Certificate{chain},
				NextProtos: []string{"http/1.1"}})
			if err == nil {
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				_, err = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				if err == nil {
					_, err = http.ReadResponse(bufio.NewReader(conn), nil)
				}
				conn.Close()
			}
			last = err
		}
		time.Sleep(100 * time.Millisecond) // let the edge finish logging
		return (cpuOf(t, p.cmd.Process.Pid) - before) / time.Duration(n), last
	}

	t.Run("refused in the handshake by default", func(t *testing.T) {
		p := startEdge(t, f, origin.URL, "--client-ca", f.rootPEM)
		perConn, err := handshakes(p, 10)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "bad certificate")
		assert.Contains(t, p.logs.String(), "client sent 401 certificates, more than the 10 allowed")
		t.Logf("edge CPU per refused 400-certificate handshake: %v", perConn)
		assert.Less(t, perConn, 100*time.Millisecond, "a long chain costs no public-key work per certificate")
		// An ordinary client still gets in.
		rec := getJSON(t, client(t, f, f.leafChain, f.leafKey, false), p.url("/"))
		requireClientCert(t, rec.Header, f.leaf.Cert.Raw)
	})

	t.Run("the byte cap alone refuses", func(t *testing.T) {
		p := startEdge(t, f, origin.URL, "--client-ca", f.rootPEM, "--max-client-chain", "1000", "--max-client-chain-bytes", "4096")
		_, err := handshakes(p, 1)
		require.Error(t, err)
		assert.Contains(t, p.logs.String(), "more than the 4096 allowed")
	})

	t.Run("accepted when allowed: the work is linear", func(t *testing.T) {
		p := startEdge(t, f, origin.URL, "--client-ca", f.rootPEM, "--max-client-chain", "1000", "--max-client-chain-bytes", "1000000")
		perConn, err := handshakes(p, 5)
		require.NoError(t, err)
		t.Logf("edge CPU per accepted 400-certificate connection: %v", perConn)
		assert.Less(t, perConn, 250*time.Millisecond)
		rec := origin.last(t)
		assert.Empty(t, rec.Header.Values("Client-Cert"), "self-signed, not verified")
	})
}

func TestMaxConns(t *testing.T) {
	f := newFixtures(t)
	origin := newEcho(t)
	p := startEdge(t, f, origin.URL, "--client-ca", f.rootPEM, "--max-conns", "2")
	dial := func(wait time.Duration) (*tls.Conn, error) {
		d := &net.Dialer{Timeout: 5 * time.Second}
		raw, err := d.Dial("tcp", p.addr)
		if err != nil {
			return nil, err
		}
		c := tls.Client(raw, &tls.Config{RootCAs: f.pool(), NextProtos: []string{"http/1.1"}, ServerName: "127.0.0.1"})
		c.SetDeadline(time.Now().Add(wait))
		if err := c.Handshake(); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	a, err := dial(5 * time.Second)
	require.NoError(t, err)
	b, err := dial(5 * time.Second)
	require.NoError(t, err)
	_, err = dial(700 * time.Millisecond)
	require.Error(t, err, "a third connection waits in the backlog")
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
	a.Close()
	c, err := dial(5 * time.Second)
	require.NoError(t, err, "a slot freed")
	c.Close()
	b.Close()
}

// rawTLS opens a TLS connection offering proto and returns it.
func rawTLS(t *testing.T, f *fixtures, addr, proto string) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: f.pool(), NextProtos: []string{proto}})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reports how long the edge took to close c (reading until
// EOF or error), failing after max.
func closedWithin(t *testing.T, c net.Conn, max time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(max))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", max)
	}
	return time.Since(start)
}

func TestTimeouts(t *testing.T) {
	f := newFixtures(t)
	origin := newEcho(t)
	slow := newSlowOrigin(t, 5*time.Second)
	p := startEdge(t, f, origin.URL, "--read-header-timeout", "1s", "--body-read-timeout", "1s",
		"--h2-idle-timeout", "1s", "--max-conn-requests", "2")
	ps := startEdge(t, f, slow.URL, "--origin-response-timeout", "1s")

	t.Run("HTTP/1.1 partial header", func(t *testing.T) {
		c := rawTLS(t, f, p.addr, "http/1.1")
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		t.Logf("closed after %v", closedWithin(t, c, 5*time.Second))
	})
	t.Run("HTTP/1.1 stalled body", func(t *testing.T) {
		c := rawTLS(t, f, p.addr, "http/1.1")
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
		t.Logf("closed after %v", closedWithin(t, c, 5*time.Second))
	})
	t.Run("HTTP/2 partial header block", func(t *testing.T) {
		c := rawTLS(t, f, p.addr, "h2")
		require.Equal(t, "h2", c.ConnectionState().NegotiatedProtocol)
		io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
		c.Write([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0})       // SETTINGS
		c.Write([]byte{0, 0, 1, 1, 0, 0, 0, 0, 1, 0x82}) // HEADERS, stream 1, no END_HEADERS
		t.Logf("closed after %v", closedWithin(t, c, 5*time.Second))
	})
	t.Run("HTTP/2 idle connection", func(t *testing.T) {
		c := rawTLS(t, f, p.addr, "h2")
		io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
		c.Write([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0})
		t.Logf("closed after %v", closedWithin(t, c, 5*time.Second))
	})
	t.Run("HTTP/2 stalled stream body", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		go pw.Write([]byte("0123456789"))
		req, err := http.NewRequest(http.MethodPost, p.url("/"), pr)
		require.NoError(t, err)
		req.ContentLength = 100
		start := time.Now()
		resp, err := client(t, f, "", "", true).Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			assert.NotEqual(t, http.StatusOK, resp.StatusCode)
		}
		assert.Less(t, time.Since(start), 5*time.Second)
	})
	t.Run("origin response", func(t *testing.T) {
		start := time.Now()
		body, err := curl(t, "--cacert", f.rootPEM, ps.url("/"))
		require.Error(t, err)
		assert.Contains(t, body, "502")
		assert.Less(t, time.Since(start), 4*time.Second)
	})
	t.Run("request budget per connection (HTTP/1.1)", func(t *testing.T) {
		c := client(t, f, "", "", false)
		for i, want := range []bool{false, true} {
			resp, err := c.Get(p.url("/"))
			require.NoError(t, err)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			assert.Equal(t, want, resp.Close, "request %d", i+1)
		}
	})
}

// slowOrigin answers after a delay.
type slowOrigin struct{ URL string }

func newSlowOrigin(t *testing.T, d time.Duration) *slowOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &slowOrigin{URL: "http://" + ln.Addr().String()}
}

// upgradeOrigin answers every request with 101, as a misbehaving origin
// would, and records the Upgrade header it got.
type upgradeOrigin struct {
	URL  string
	mu   sync.Mutex
	seen []string
}

func newUpgradeOrigin(t *testing.T) *upgradeOrigin {
	t.Helper()
	o := &upgradeOrigin{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.seen = append(o.seen, r.Header.Get("Upgrade"))
		o.mu.Unlock()
		c, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		up := r.Header.Get("Upgrade")
		if up == "" {
			up = "h2c"
		}
		fmt.Fprintf(buf, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", up)
		buf.Flush()
		c.SetReadDeadline(time.Now().Add(time.Second))
		io.Copy(io.Discard, c)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	o.URL = "http://" + ln.Addr().String()
	return o
}

func (o *upgradeOrigin) last() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.seen) == 0 {
		return "<none>"
	}
	return o.seen[len(o.seen)-1]
}

func TestUpgrades(t *testing.T) {
	f := newFixtures(t)
	o := newUpgradeOrigin(t)
	p := startEdge(t, f, o.URL, "--client-ca", f.rootPEM)
	for _, tc := range []struct {
		name, upgrade string
		status        int
		seen          string
	}{
		{"websocket is allowed", "websocket", http.StatusSwitchingProtocols, "websocket"},
		{"h2c never", "h2c", http.StatusBadGateway, ""},
		{"arbitrary protocols are not", "x-custom/1.0", http.StatusBadGateway, ""},
		{"only the allowed one of a list", "h2c, websocket", http.StatusSwitchingProtocols, "websocket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status := rawRequest(t, f, p.addr, true, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: "+tc.upgrade+
				"\r\nClient-Cert: :"+forged+":\r\n\r\n")
			assert.Equal(t, tc.status, status)
			assert.Equal(t, tc.seen, o.last())
		})
	}
	t.Run("CONNECT is refused", func(t *testing.T) {
		status := rawRequest(t, f, p.addr, true, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
		assert.Equal(t, http.StatusMethodNotAllowed, status)
	})
	t.Run("no upgrade at all with --allow-upgrade ''", func(t *testing.T) {
		p := startEdge(t, f, o.URL, "--client-ca", f.rootPEM, "--allow-upgrade", "")
		status := rawRequest(t, f, p.addr, true, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		assert.Equal(t, http.StatusBadGateway, status)
		assert.Equal(t, "", o.last())
	})
	t.Run("h2c cannot be allowed", func(t *testing.T) {
		out, err := runEdgeOnce(t, f, o.URL, "--allow-upgrade", "websocket,h2c")
		require.Error(t, err)
		assert.Contains(t, out, "h2c is never allowed")
	})
}

func TestManagedFamiliesAlwaysStripped(t *testing.T) {
	f := newFixtures(t)
	origin := newEcho(t)
	p := startEdge(t, f, origin.URL, "--client-ca", f.rootPEM) // no preset on
	names := []string{"X-Cert-Verify", "X-Cert-Revoked", "X_CERT_SUBJECT_DN", "cf-cert-verified", "Cf_Cert_Revoked",
		"X-Forwarded-Client-Cert", "x_forwarded_client_cert", "Client-Cert-Foo", "Client-Certificate",
		"Cf-Client-Cert-Der-Base64", "Cf-Client-Cert-Sha256"}
	args := []string{"--cacert", f.rootPEM, "--cert", f.leafChain, "--key", f.leafKey}
	for _, n := range names {
		args = append(args, "-H", n+": "+forged)
	}
	for _, h2 := range []string{"--http1.1", "--http2"} {
		body, err := curl(t, append(args, h2, p.url("/"))...)
		require.NoError(t, err, body)
		rec := origin.last(t)
		for k, vs := range rec.Header {
			for _, v := range vs {
				assert.NotContains(t, v, forged, "%s reached the origin (%s)", k, h2)
			}
		}
		requireClientCert(t, rec.Header, f.leaf.Cert.Raw)
	}
}
