package edge_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testtool"
)

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	return string(body)
}

// TestMetrics drives --metrics-listen with real clients and checks the
// exposition with promtool (Debian's prometheus package).
func TestMetrics(t *testing.T) {
	testtool.Need(t, "curl")
	promtool := testtool.Need(t, "promtool")
	f := newFixtures(t)
	origin := newEcho(t)
	maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := startEdge(t, f, origin.URL, "--client-ca", f.rootPEM, "--xfcc", "--metrics-listen", maddr)

	_, err := curl(t, "--cacert", f.rootPEM, "--cert", f.leafChain, "--key", f.leafKey, p.url("/a"))
	require.NoError(t, err)
	_, err = curl(t, "--cacert", f.rootPEM, "-H", "X_Forwarded_Client_Cert: Hash=00", "-H", "Client-Cert: :AA==:", p.url("/b"))
	require.NoError(t, err)
	_, err = curl(t, "--cacert", f.rootPEM, "--cert", f.strangerChain, "--key", f.strangerKy, p.url("/c"))
	require.NoError(t, err)
	// A client that does not speak TLS: a handshake failure.
	c, err := net.Dial("tcp", p.addr)
	require.NoError(t, err)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	io.Copy(io.Discard, c)
	c.Close()
	// A connection kept open shows in the gauge.
	hc := client(t, f, f.leafChain, f.leafKey, false)
	resp, err := hc.Get(p.url("/d"))
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	var body string
	require.Eventually(t, func() bool {
		body = scrape(t, maddr)
		return strings.Contains(body, `certsight_edge_tls_handshake_failures_total{reason="not_tls"} 1`)
	}, 10*time.Second, 50*time.Millisecond, "handshake failure not counted")
	for _, want := range []string{
		`certsight_edge_requests_total{client_cert="verified",reason=""} 2`,
		`certsight_edge_requests_total{client_cert="none",reason=""} 1`,
		`certsight_edge_requests_total{client_cert="failed",reason="untrusted"} 1`,
		`certsight_edge_stripped_headers_total{family="xfcc"} 1`,
		`certsight_edge_stripped_headers_total{family="client-cert"} 1`,
		`certsight_edge_request_duration_seconds_count 4`,
		`certsight_edge_open_connections 1`,
	} {
		assert.Contains(t, body, want)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s", out)

	t.Run("origin errors", func(t *testing.T) {
		maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		dead := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
		p := startEdge(t, f, dead, "--metrics-listen", maddr)
		out, _ := curl(t, "--cacert", f.rootPEM, p.url("/"))
		_ = out
		assert.Contains(t, scrape(t, maddr), "certsight_edge_origin_errors_total 1")
	})
}
