package ocsp

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testpki"
	"github.com/certsight/certsight/internal/testtool"
)

// pki is a CA with a good, a revoked and an unlisted leaf, a delegated OCSP
// responder, a certificate that is not a responder, and files for openssl.
type pki struct {
	dir                        string
	ca, stranger               *testpki.Authority
	good, revoked, unlisted    *testpki.Leaf
	responder, notResponder    *testpki.Leaf
	foreignResponder           *testpki.Leaf
	caPEM, caKey, index        string
	respPEM, respKey           string
	notRespPEM, notRespKey     string
	foreignPEM, foreignKey     string
	revokedSerial, goodSerialX string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	var err error
	p.ca, err = testpki.NewRoot("OCSP Test CA")
	require.NoError(t, err)
	p.stranger, err = testpki.NewRoot("Stranger CA")
	require.NoError(t, err)
	issue := func(a *testpki.Authority, cn string, eku ...x509.ExtKeyUsage) *testpki.Leaf {
		l, err := a.Issue(testpki.Options{Subject: pkix.Name{CommonName: cn}, EKU: eku})
		require.NoError(t, err)
		return l
	}
	p.good = issue(p.ca, "good client")
	p.revoked = issue(p.ca, "revoked client")
	p.unlisted = issue(p.ca, "unlisted client")
	p.responder = issue(p.ca, "delegated responder", x509.ExtKeyUsageOCSPSigning)
	p.notResponder = issue(p.ca, "not a responder", x509.ExtKeyUsageServerAuth)
	p.foreignResponder = issue(p.stranger, "foreign responder", x509.ExtKeyUsageOCSPSigning)
	write := func(name string, data []byte) string {
		path := filepath.Join(p.dir, name)
		require.NoError(t, testpki.WriteFile(path, data))
		return path
	}
	key := func(name string, l *testpki.Leaf) string {
		k, err := testpki.KeyPEM(l.Key)
		require.NoError(t, err)
		return write(name, k)
	}
	p.caPEM = write("ca.pem", testpki.CertPEM(p.ca.Cert))
	ck, err := testpki.KeyPEM(p.ca.Key)
	require.NoError(t, err)
	p.caKey = write("ca.key", ck)
	p.respPEM, p.respKey = write("resp.pem", testpki.CertPEM(p.responder.Cert)), key("resp.key", p.responder)
	p.notRespPEM, p.notRespKey = write("notresp.pem", testpki.CertPEM(p.notResponder.Cert)), key("notresp.key", p.notResponder)
	p.foreignPEM, p.foreignKey = write("foreign.pem", testpki.CertPEM(p.foreignResponder.Cert)), key("foreign.key", p.foreignResponder)
	p.index = testtool.OCSPIndex(t, filepath.Join(p.dir, "index.txt"),
		testtool.OCSPEntry{Serial: p.good.Cert.SerialNumber}, testtool.OCSPEntry{Serial: p.revoked.Cert.SerialNumber, Revoked: true})
	return p
}

// responder_ runs `openssl ocsp` as the CA's responder on a loopback port,
// signing with signer/key, and returns its URL.
func (p *pki) responder_(t *testing.T, signer, key string) string {
	t.Helper()
	return testtool.OCSPResponder(t, p.index, p.caPEM, signer, key, 0)
}

func newClient(t *testing.T, responder string, o Options) (*Client, *[]string) {
	t.Helper()
	var mu sync.Mutex
	var results []string
	o.Responder = responder
	o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	o.OnResult = func(r string) { mu.Lock(); results = append(results, r); mu.Unlock() }
	c, err := NewClient(o)
	require.NoError(t, err)
	return c, &results
}

func TestAgainstOpenSSLResponder(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []struct {
		name        string
		signer, key string
		delegated   bool
	}{
		{"signed by the issuer", p.caPEM, p.caKey, false},
		{"signed by a delegated responder", p.respPEM, p.respKey, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := p.responder_(t, tc.signer, tc.key)
			c, results := newClient(t, url, Options{Wait: 5 * time.Second})
			ctx := context.Background()
			assert.Equal(t, Good, c.Check(ctx, p.good.Cert, p.ca.Cert))
			assert.Equal(t, Revoked, c.Check(ctx, p.revoked.Cert, p.ca.Cert))
			assert.Equal(t, Unknown, c.Check(ctx, p.unlisted.Cert, p.ca.Cert), "openssl answers unknown for a serial not in its index")
			// Cached: asking again does not reach the responder.
			assert.Equal(t, Good, c.Check(ctx, p.good.Cert, p.ca.Cert))
			assert.Equal(t, []string{"good", "revoked", "unknown"}, *results)

			// The raw answer, checked by hand.
			id, err := NewCertID(p.good.Cert, p.ca.Cert)
			require.NoError(t, err)
			req, err := Request(id)
			require.NoError(t, err)
			hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
			resp, err := hc.Post(url, "application/ocsp-request", strings.NewReader(string(req)))
			require.NoError(t, err)
			defer resp.Body.Close()
			der := make([]byte, 0, 4096)
			buf := make([]byte, 4096)
			for {
				n, err := resp.Body.Read(buf)
				der = append(der, buf[:n]...)
				if err != nil {
					break
				}
			}
			r, err := ParseResponse(der, id, p.ca.Cert, time.Now())
			require.NoError(t, err)
			assert.Equal(t, tc.delegated, r.SignedByDelegate)
			assert.False(t, r.NextUpdate.IsZero(), "-nmin gives a nextUpdate")
			_, err = ParseResponse(der, id, p.ca.Cert, time.Now().Add(time.Hour))
			assert.ErrorIs(t, err, ErrWindow, "an hour later the answer is past nextUpdate")
			_, err = ParseResponse(der, id, p.stranger.Cert, time.Now())
			assert.ErrorIs(t, err, ErrSigner, "checked against another issuer")
		})
	}
}

func TestWrongSigner(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []struct{ name, signer, key string }{
		{"issued by the CA without id-kp-OCSPSigning", p.notRespPEM, p.notRespKey},
		{"a responder of another CA", p.foreignPEM, p.foreignKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, results := newClient(t, p.responder_(t, tc.signer, tc.key), Options{Wait: 5 * time.Second})
			assert.Equal(t, Unknown, c.Check(context.Background(), p.good.Cert, p.ca.Cert))
			assert.Equal(t, Unknown, c.Check(context.Background(), p.revoked.Cert, p.ca.Cert),
				"a revocation from an unauthorised signer is not believed either")
			assert.Equal(t, []string{"error", "error"}, *results)
		})
	}
}

// TestOtherSerial: openssl answers (properly signed) about another serial;
// the client must not take it as an answer about the asked one.
func TestOtherSerial(t *testing.T) {
	openssl := testtool.Need(t, "openssl")
	p := newPKI(t)
	reqFile, respFile := filepath.Join(p.dir, "req.der"), filepath.Join(p.dir, "resp.der")
	out, err := exec.Command(openssl, "ocsp", "-issuer", p.caPEM, "-serial", fmt.Sprintf("0x%X", p.good.Cert.SerialNumber),
		"-no_nonce", "-reqout", reqFile).CombinedOutput()
	require.NoError(t, err, "%s", out)
	out, err = exec.Command(openssl, "ocsp", "-reqin", reqFile, "-index", p.index, "-CA", p.caPEM,
		"-rsigner", p.caPEM, "-rkey", p.caKey, "-nmin", "10", "-respout", respFile).CombinedOutput()
	require.NoError(t, err, "%s", out)
	der, err := os.ReadFile(respFile)
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(der)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c, results := newClient(t, "http://"+ln.Addr().String()+"/", Options{Wait: 5 * time.Second})
	assert.Equal(t, Good, c.Check(context.Background(), p.good.Cert, p.ca.Cert), "the answer is about this one")
	assert.Equal(t, Unknown, c.Check(context.Background(), p.revoked.Cert, p.ca.Cert), "…and not about this one")
	assert.Equal(t, []string{"good", "error"}, *results)
	id, _ := NewCertID(p.revoked.Cert, p.ca.Cert)
	_, err = ParseResponse(der, id, p.ca.Cert, time.Now())
	assert.ErrorIs(t, err, ErrOtherCert)
}

func TestDownAndSlow(t *testing.T) {
	p := newPKI(t)
	// Down: nothing listens.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	down := "http://" + l.Addr().String() + "/"
	l.Close()
	c, results := newClient(t, down, Options{Wait: 5 * time.Second})
	assert.Equal(t, Unknown, c.Check(context.Background(), p.good.Cert, p.ca.Cert))
	assert.Equal(t, []string{"error"}, *results)

	// Slow: a peer that accepts and never answers. The check gives up after
	// Wait, not after the fetch timeout.
	slow, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { slow.Close() })
	go func() {
		for {
			c, err := slow.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c, _ = newClient(t, "http://"+slow.Addr().String()+"/", Options{Wait: 200 * time.Millisecond, FetchTimeout: 30 * time.Second})
	done := make(chan Status, 1)
	go func() { done <- c.Check(context.Background(), p.good.Cert, p.ca.Cert) }()
	select {
	case st := <-done:
		assert.Equal(t, Unknown, st)
	case <-time.After(10 * time.Second):
		t.Fatal("Check waited for the slow responder")
	}
	// A caller's own deadline is honoured too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.Equal(t, Unknown, c.Check(ctx, p.revoked.Cert, p.ca.Cert))
}

func TestNotChecked(t *testing.T) {
	p := newPKI(t)
	c, err := NewClient(Options{})
	require.NoError(t, err)
	assert.Equal(t, NotChecked, c.Check(context.Background(), p.good.Cert, p.ca.Cert), "no AIA URL, no override")
	_, err = NewClient(Options{Responder: "https://ocsp.example/"})
	assert.Error(t, err, "only http responders")
}

func TestParseResponseGarbage(t *testing.T) {
	p := newPKI(t)
	id, err := NewCertID(p.good.Cert, p.ca.Cert)
	require.NoError(t, err)
	for _, der := range [][]byte{nil, {0x30, 0x03, 0x0a, 0x01, 0x01}, {0x30, 0x03, 0x0a, 0x01, 0x03}, []byte("not der")} {
		_, err := ParseResponse(der, id, p.ca.Cert, time.Now())
		assert.Error(t, err)
	}
	_, err = ParseResponse([]byte{0x30, 0x03, 0x0a, 0x01, 0x03}, id, p.ca.Cert, time.Now())
	assert.ErrorIs(t, err, ErrNotSuccess)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
