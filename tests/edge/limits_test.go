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
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testtool"
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

func TestChainLimits(t *testing.T) {
	f := newFixtures(t)
	origin := newEcho(t)
	chain := longChain(t, 400)
	size := 0
	for _, d := range chain.Certificate {
		size += len(d)
	}
	t.Logf("chain: %d certificates, %d bytes", len(chain.Certificate), size)
	// handshakes makes n connections with the long chain and returns the
	// edge's CPU time per connection (cpuErr where it cannot be read) and
	// the last connection's error.
	handshakes := func(p *proxy, n int) (perConn time.Duration, cpuErr, last error) {
		before, cpuErr := processCPU(p.cmd.Process.Pid)
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
		after, err := processCPU(p.cmd.Process.Pid)
		if cpuErr == nil {
			cpuErr = err
		}
		return (after - before) / time.Duration(n), cpuErr, last
	}
	// cpuBelow checks the CPU budget in a subtest of its own, so that where
	// it cannot be measured only that check is skipped, visibly.
	cpuBelow := func(t *testing.T, what string, perConn time.Duration, cpuErr error, limit time.Duration) {
		t.Run("CPU below "+limit.String(), func(t *testing.T) {
			if cpuErr != nil {
				t.Skipf("SKIP: the edge's CPU time cannot be read here: %v", cpuErr)
			}
			t.Logf("edge CPU per %s: %v", what, perConn)
			assert.Less(t, perConn, limit)
		})
	}

	t.Run("refused in the handshake by default", func(t *testing.T) {
		p := startEdge(t, f, origin.URL, "--client-ca", f.rootPEM)
		perConn, cpuErr, err := handshakes(p, 10)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "bad certificate")
		assert.Contains(t, p.logs.String(), "client sent 401 certificates, more than the 10 allowed")
		// A long chain costs no public-key work per certificate.
		cpuBelow(t, "refused 400-certificate handshake", perConn, cpuErr, 100*time.Millisecond)
		// An ordinary client still gets in.
		rec := getJSON(t, client(t, f, f.leafChain, f.leafKey, false), p.url("/"))
		requireClientCert(t, rec.Header, f.leaf.Cert.Raw)
	})

	t.Run("the byte cap alone refuses", func(t *testing.T) {
		p := startEdge(t, f, origin.URL, "--client-ca", f.rootPEM, "--max-client-chain", "1000", "--max-client-chain-bytes", "4096")
		_, _, err := handshakes(p, 1)
		require.Error(t, err)
		assert.Contains(t, p.logs.String(), "more than the 4096 allowed")
	})

	t.Run("accepted when allowed: the work is linear", func(t *testing.T) {
		p := startEdge(t, f, origin.URL, "--client-ca", f.rootPEM, "--max-client-chain", "1000", "--max-client-chain-bytes", "1000000")
		perConn, cpuErr, err := handshakes(p, 5)
		require.NoError(t, err)
		cpuBelow(t, "accepted 400-certificate connection", perConn, cpuErr, 250*time.Millisecond)
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
		resp, err := client(t, f, "", "", false).Get(ps.url("/"))
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
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
	check := func(t *testing.T) {
		t.Helper()
		rec := origin.last(t)
		for k, vs := range rec.Header {
			for _, v := range vs {
				assert.NotContains(t, v, forged, "%s reached the origin", k)
			}
		}
		requireClientCert(t, rec.Header, f.leaf.Cert.Raw)
	}
	for _, h2 := range []bool{false, true} {
		// curl writes the names as given; Go's client too (the map key as
		// is over HTTP/1.1, lower-cased over HTTP/2), and runs everywhere.
		t.Run(fmt.Sprintf("curl h2=%v", h2), func(t *testing.T) {
			testtool.Need(t, "curl")
			args := []string{"--cacert", f.rootPEM, "--cert", f.leafChain, "--key", f.leafKey, "--http1.1"}
			if h2 {
				args[len(args)-1] = "--http2"
			}
			for _, n := range names {
				args = append(args, "-H", n+": "+forged)
			}
			body, err := curl(t, append(args, p.url("/"))...)
			require.NoError(t, err, body)
			check(t)
		})
		t.Run(fmt.Sprintf("Go client h2=%v", h2), func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, p.url("/"), nil)
			require.NoError(t, err)
			for _, n := range names {
				req.Header[n] = []string{forged} // not canonicalized: sent as spelled
			}
			resp, err := client(t, f, f.leafChain, f.leafKey, h2).Do(req)
			require.NoError(t, err)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			if h2 {
				require.Equal(t, 2, resp.ProtoMajor)
			}
			check(t)
		})
	}
}
