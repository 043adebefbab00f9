package extension_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testnss"
	"github.com/certsight/certsight/internal/testpki"
	"github.com/certsight/certsight/internal/testtool"
)

// From an edge log line to the device: a client certificate presented at
// certsight-edge is logged with its SHA-256 (cert_sha256), and that value,
// put into `SELECT … FROM client_certificates WHERE sha256 = '…'` (what a
// Fleet live query sends to every host), finds the machine's store that
// holds it — here a user's NSS database under a --root image — with the
// key state. Both sides are the real binaries.
func TestEdgeLogLineToDevice(t *testing.T) {
	edgeBin, _, err := testtool.Binary("certsight-edge", t.TempDir())
	require.NoError(t, err)

	root, err := testpki.NewRoot("Roundtrip Client CA")
	require.NoError(t, err)
	srv, err := root.ServerCert()
	require.NoError(t, err)
	alice, err := root.Issue(testpki.Options{Subject: pkix.Name{CommonName: "alice"}})
	require.NoError(t, err)
	bob, err := root.Issue(testpki.Options{Subject: pkix.Name{CommonName: "bob"}})
	require.NoError(t, err)

	// The edge's files and an origin.
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	srvKey, err := srv.KeyPEM()
	require.NoError(t, err)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	defer origin.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(edgeBin, "--listen", addr, "--tls-cert", write("srv.pem", srv.CertPEM()), "--tls-key", write("srv.key", srvKey),
		"--client-ca", write("ca.pem", root.CertPEM()), "--client-auth", "verify-if-given", "--origin", origin.URL,
		"--access-log", "--log-format", "json")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()

	// alice presents her certificate.
	pool := x509.NewCertPool()
	pool.AddCert(root.Cert)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{{Certificate: [][]byte{alice.Cert.Raw}, PrivateKey: alice.Key}},
	}}}
	var resp *http.Response
	for range 50 { // the edge is starting
		if resp, err = client.Get("https://" + addr + "/hello"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err)
	resp.Body.Close()

	// The access log line.
	var logged string
	deadline := time.After(10 * time.Second)
	for logged == "" {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "edge exited")
			var rec map[string]any
			if json.Unmarshal([]byte(l), &rec) == nil && rec["msg"] == "request" && rec["path"] == "/hello" {
				assert.Equal(t, "SUCCESS", rec["cert_verify"])
				logged, _ = rec["cert_sha256"].(string)
				require.NotEmpty(t, logged, l)
			}
		case <-deadline:
			t.Fatal("no access log line for the request")
		}
	}

	// The device: alice's NSS database (with her key, and bob's certificate
	// without one) under an image's root, read through the default stores
	// as osqueryd does.
	img := t.TempDir()
	dbDir := userNSSDir(t, img, "alice", "bob")
	require.NoError(t, testnss.Create(context.Background(), dbDir, []testnss.Cert{
		{Nickname: "alice corp", DER: alice.Cert.Raw, Trust: "u,u,u", WithKey: true, Key: alice.Key},
		{Nickname: "bob corp", DER: bob.Cert.Raw, Trust: ",,"},
	}, testnss.Options{KeyMaterial: true}))

	q := "SELECT store, store_location, username, path, label, common_name, private_key FROM client_certificates WHERE sha256 = '" + logged + "'"
	out, err := exec.Command(extBin, "--root", img, "--json", "--query", q).Output()
	require.NoError(t, err, string(out))
	var rows []map[string]string
	require.NoError(t, json.Unmarshal(out, &rows), string(out))
	require.Len(t, rows, 1, string(out))
	assert.Equal(t, map[string]string{
		"store": "nssdb", "store_location": "user", "username": "alice",
		"path": dbDir, "label": "alice corp", "common_name": "alice",
		"private_key": "matched",
	}, rows[0])
	assert.False(t, strings.Contains(string(out), "bob"))
}

// userNSSDir makes the user accounts of an image of this OS's layout under
// img (the default stores --root reads are the running OS's) and returns
// where the first user's NSS database goes: ~/.pki/nssdb with an
// /etc/passwd on Linux, a Firefox profile under Users/ on macOS and
// Windows, which keep no ~/.pki/nssdb.
func userNSSDir(t *testing.T, img string, users ...string) string {
	t.Helper()
	var profile string
	switch runtime.GOOS {
	case "windows":
		profile = "AppData/Roaming/Mozilla/Firefox/Profiles/k2x7y9.default-release"
	case "darwin":
		profile = "Library/Application Support/Firefox/Profiles/k2x7y9.default-release"
	default:
		var passwd strings.Builder
		for i, u := range users {
			fmt.Fprintf(&passwd, "%s:x:%d:%d::/home/%s:/bin/sh\n", u, 1000+i, 1000+i, u)
		}
		require.NoError(t, os.MkdirAll(filepath.Join(img, "etc"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(img, "etc", "passwd"), []byte(passwd.String()), 0o644))
		return filepath.Join(img, "home", users[0], ".pki", "nssdb")
	}
	for _, u := range users {
		require.NoError(t, os.MkdirAll(filepath.Join(img, "Users", u), 0o755))
	}
	return filepath.Join(img, "Users", users[0], filepath.FromSlash(profile))
}
