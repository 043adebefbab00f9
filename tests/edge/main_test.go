// Package edge_test runs bin/certsight-edge end to end: real TLS, real curl
// with client certificates, Go HTTP/1.1 and HTTP/2 clients, a real origin,
// and nginx with the njs RFC 9440 config for byte parity.
package edge_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testpki"
	"github.com/certsight/certsight/internal/testtool"
)

var edgeBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "certsight-edge-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	edgeBin, _, err = testtool.Binary("certsight-edge", tmp)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Every test runs against both HTTP/1.1 engines: the lane (the
	// default) and net/http alone.
	for _, e := range engines {
		fmt.Fprintf(os.Stderr, "tests/edge: HTTP/1.1 served by %s\n", e.name)
		engineArgs = e.args
		if code := m.Run(); code != 0 {
			fmt.Fprintf(os.Stderr, "tests/edge: failed with HTTP/1.1 served by %s\n", e.name)
			return code
		}
	}
	return 0
}

var engines = []struct {
	name string
	args []string
}{
	{"the fast lane (internal/h1lane)", nil},
	{"net/http alone (--http1-lane=false)", []string{"--http1-lane=false"}},
}

// engineArgs are the flags of the engine the tests run against now.
var engineArgs []string

// fixtures is one PKI written to disk: a root, an intermediate, client
// leaves, a server certificate, and file paths for each.
type fixtures struct {
	dir         string
	root, inter *testpki.Authority
	leaf        *testpki.Leaf

	rootPEM, interPEM         string
	leafChain, leafKey        string // leaf + intermediate, as clients send it
	serverCert, serverKey     string
	leafAlone                 string // leaf only
	strangerChain, strangerKy string // a certificate from an unknown CA
}

func newFixtures(t *testing.T) *fixtures {
	t.Helper()
	f := &fixtures{dir: t.TempDir()}
	var err error
	f.root, err = testpki.NewRoot("E2E Root CA")
	require.NoError(t, err)
	f.inter, err = f.root.NewIntermediate("E2E Intermediate CA")
	require.NoError(t, err)
	f.leaf, err = f.inter.Issue(testpki.Options{Subject: pkix.Name{CommonName: "James Royal",
		OrganizationalUnit: []string{"Access Admins"}, Organization: []string{"Access"}, Country: []string{"US"}}})
	require.NoError(t, err)
	srv, err := f.root.ServerCert()
	require.NoError(t, err)
	f.rootPEM = f.write(t, "root.pem", testpki.CertPEM(f.root.Cert))
	f.interPEM = f.write(t, "inter.pem", testpki.CertPEM(f.inter.Cert))
	f.leafChain = f.write(t, "leaf-chain.pem", testpki.CertPEM(f.leaf.Cert, f.inter.Cert))
	f.leafAlone = f.write(t, "leaf.pem", testpki.CertPEM(f.leaf.Cert))
	f.leafKey = f.writeKey(t, "leaf.key", f.leaf)
	f.serverCert = f.write(t, "server.pem", testpki.CertPEM(srv.Cert))
	f.serverKey = f.writeKey(t, "server.key", srv)
	other, err := testpki.NewRoot("Stranger Root")
	require.NoError(t, err)
	stranger, err := other.Issue(testpki.Options{})
	require.NoError(t, err)
	f.strangerChain = f.write(t, "stranger.pem", testpki.CertPEM(stranger.Cert))
	f.strangerKy = f.writeKey(t, "stranger.key", stranger)
	return f
}

func (f *fixtures) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(f.dir, name)
	require.NoError(t, testpki.WriteFile(p, data))
	return p
}

func (f *fixtures) writeKey(t *testing.T, name string, l *testpki.Leaf) string {
	t.Helper()
	k, err := testpki.KeyPEM(l.Key)
	require.NoError(t, err)
	return f.write(t, name, k)
}

// issue makes and writes another client certificate under the intermediate.
func (f *fixtures) issue(t *testing.T, name string, o testpki.Options) (*testpki.Leaf, string, string) {
	t.Helper()
	l, err := f.inter.Issue(o)
	require.NoError(t, err)
	return l, f.write(t, name+".pem", testpki.CertPEM(l.Cert, f.inter.Cert)), f.writeKey(t, name+".key", l)
}

func (f *fixtures) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(f.root.Cert)
	return p
}

// echo is an origin that records the headers of every request, exactly as
// the Go server parsed them, and answers them as JSON.
type echo struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
}

type received struct {
	Header  http.Header `json:"header"`
	Trailer http.Header `json:"trailer"`
	Path    string      `json:"path"`
}

func newEcho(t *testing.T) *echo {
	t.Helper()
	e := &echo{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		rec := received{Header: r.Header.Clone(), Trailer: r.Trailer.Clone(), Path: r.URL.Path}
		e.mu.Lock()
		e.reqs = append(e.reqs, rec)
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(rec)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *echo) last(t *testing.T) received {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	require.NotEmpty(t, e.reqs, "the origin received no request")
	return e.reqs[len(e.reqs)-1]
}

func (e *echo) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.reqs)
}

// proxy is a running certsight-edge.
type proxy struct {
	addr string
	cmd  *exec.Cmd
	logs *testtool.SyncBuffer
	done chan error
}

// startEdge runs certsight-edge with the fixtures' server certificate, the
// origin, and extra flags; it waits for the listening line.
func startEdge(t *testing.T, f *fixtures, origin string, extra ...string) *proxy {
	t.Helper()
	args := append([]string{"--listen", "127.0.0.1:0", "--tls-cert", f.serverCert, "--tls-key", f.serverKey,
		"--origin", origin}, engineArgs...)
	args = append(args, extra...)
	cmd := execCommand(edgeBin, args...)
	pr, pw := io.Pipe()
	logs := &testtool.SyncBuffer{}
	cmd.Stderr = pw
	require.NoError(t, cmd.Start())
	p := &proxy{cmd: cmd, logs: logs, done: make(chan error, 1)}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			logs.Write([]byte(line + "\n"))
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "certsight-edge listening" {
				addrc <- rec.Addr
			}
		}
	}()
	go func() { p.done <- cmd.Wait(); pw.Close() }()
	select {
	case p.addr = <-addrc:
	case err := <-p.done:
		t.Fatalf("certsight-edge exited at start: %v\n%s", err, logs.String())
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("certsight-edge did not start\n%s", logs.String())
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			if interrupt(cmd.Process) != nil {
				cmd.Process.Kill()
			}
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
			}
		}
		if t.Failed() {
			t.Logf("certsight-edge log:\n%s", logs.String())
		}
	})
	return p
}

func (p *proxy) url(path string) string { return "https://" + p.addr + path }

// client is a Go client presenting the certificates in certFile/keyFile
// (none when empty) over HTTP/1.1 keep-alive or HTTP/2.
func client(t *testing.T, f *fixtures, certFile, keyFile string, h2 bool) *http.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: f.pool()}
	if certFile != "" {
		kp, err := tls.LoadX509KeyPair(certFile, keyFile)
		require.NoError(t, err)
		cfg.Certificates = []tls.Certificate{kp}
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: h2}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// curl runs curl with args and returns the response body.
func curl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "curl", append([]string{"-sS", "--fail-with-body"}, args...)...).CombinedOutput()
	return string(out), err
}

// freePort returns a free loopback port for programs that need one given.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// execCommand is exec.Command for a program that interrupt can stop.
func execCommand(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	ownGroup(cmd)
	return cmd
}

// errNoInterrupt: this platform cannot ask a process to shut down
// gracefully (Wine has no console to send CTRL_BREAK through).
var errNoInterrupt = errors.New("cannot deliver a graceful-shutdown request here")

// needInterrupt sends interrupt to p, skipping where none can be sent.
func needInterrupt(t *testing.T, p *os.Process) {
	t.Helper()
	err := interrupt(p)
	if errors.Is(err, errNoInterrupt) {
		t.Skipf("SKIP: %v", err)
	}
	require.NoError(t, err)
}
