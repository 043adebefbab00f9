package edge_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testpki"
	"github.com/certsight/certsight/internal/testtool"
)

const njsModule = "/usr/lib/nginx/modules/ngx_http_js_module.so"

// ccJS is the njs function of edge-peers.md §2, verbatim in behaviour.
const ccJS = `function clientCert(r) {
    if (r.variables.ssl_client_verify !== 'SUCCESS') return '';
    var pem = r.variables.ssl_client_raw_cert;
    if (!pem) return '';
    return ':' + pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '') + ':';
}
export default { clientCert };
`

// nginxConf is the speed-anchor config of edge-peers.md §2 with every path
// in the test's directory.
func nginxConf(dir string, port int, origin, serverCert, serverKey, rootPEM string) string {
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers must read the temp dir
	}
	return fmt.Sprintf(`%s
load_module %s;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %s/body;
    proxy_temp_path %s/proxy;
    fastcgi_temp_path %s/fastcgi;
    uwsgi_temp_path %s/uwsgi;
    scgi_temp_path %s/scgi;
    js_import cc from %s/cc.js;
    js_set $client_cert_sf cc.clientCert;
    upstream origin { server %s; keepalive 16; }
    server {
        listen 127.0.0.1:%d ssl http2;
        ssl_certificate        %s;
        ssl_certificate_key    %s;
        ssl_client_certificate %s;
        ssl_verify_client      optional;
        ssl_verify_depth       2;
        location / {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Client-Cert       $client_cert_sf;
            proxy_set_header Client-Cert-Chain "";
            proxy_pass http://origin;
        }
    }
}
`, user, njsModule, dir, dir, dir, dir, dir, dir, dir, dir, origin, port, serverCert, serverKey, rootPEM)
}

// startNginx runs nginx in the foreground with the njs RFC 9440 config and
// returns its address.
func startNginx(t *testing.T, f *fixtures, originHostPort string) string {
	t.Helper()
	nginx := testtool.Need(t, "nginx")
	if _, err := os.Stat(njsModule); err != nil {
		testtool.Need(t, "ngx_http_js_module (libnginx-mod-http-js)")
	}
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cc.js"), []byte(ccJS), 0o644))
	port := freePort(t)
	conf := filepath.Join(dir, "nginx.conf")
	require.NoError(t, os.WriteFile(conf, []byte(nginxConf(dir, port, originHostPort, f.serverCert, f.serverKey, f.rootPEM)), 0o644))
	return runNginx(t, nginx, dir, conf, port)
}

func TestParityWithNginx(t *testing.T) {
	testtool.Need(t, "curl")
	f := newFixtures(t)
	origin := newEcho(t)
	originHostPort := origin.Listener.Addr().String()
	nginxAddr := startNginx(t, f, originHostPort)
	p := startEdge(t, f, origin.URL, "--client-ca", f.rootPEM)

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	type clientCase struct{ name, cert, key string }
	cases := []clientCase{{"ECDSA P-256 leaf + intermediate", f.leafChain, f.leafKey}}
	for _, o := range []struct {
		name string
		opts testpki.Options
	}{
		{"RSA 2048 leaf", testpki.Options{Key: rsaKey}},
		{"ECDSA P-384 leaf", testpki.Options{Key: p384}},
		{"UTF-8 subject", testpki.Options{Subject: pkix.Name{CommonName: "Zoë Ångström", Organization: []string{"Ünïcode, Inc."}}}},
		{"3 KB leaf", testpki.Options{Padding: 3000}},
		{"short-lived leaf", testpki.Options{NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour)}},
	} {
		_, c, k := f.issue(t, fmt.Sprintf("parity%d", len(cases)), o.opts)
		cases = append(cases, clientCase{o.name, c, k})
	}
	cases = append(cases, clientCase{"no certificate", "", ""}, clientCase{"untrusted certificate", f.strangerChain, f.strangerKy})

	equal := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			get := func(addr string, isNginx bool) received {
				args := []string{"--cacert", f.rootPEM, "-H", "Client-Cert: :" + forged + ":", "-H", "Client-Cert-Chain: :" + forged + ":"}
				if tc.cert != "" {
					args = append(args, "--cert", tc.cert, "--key", tc.key)
				}
				body, err := curl(t, append(args, "https://"+addr+"/parity")...)
				if isNginx && tc.cert == f.strangerChain {
					// nginx answers 400 to a certificate that fails verification
					// (edge-peers.md §2) and forwards nothing: the same outcome.
					require.Error(t, err)
					require.Contains(t, body, "400")
					return received{Header: http.Header{}}
				}
				require.NoError(t, err, body)
				var rec received
				require.NoError(t, json.Unmarshal([]byte(body), &rec), body)
				return rec
			}
			ours, theirs := get(p.addr, false), get(nginxAddr, true)
			assert.Equal(t, theirs.Header.Values("Client-Cert"), ours.Header.Values("Client-Cert"),
				"Client-Cert bytes: certsight-edge vs nginx+njs")
			if tc.cert != "" && tc.cert != f.strangerChain {
				require.Len(t, ours.Header.Values("Client-Cert"), 1)
			} else {
				assert.Empty(t, ours.Header.Values("Client-Cert"))
			}
			if !t.Failed() {
				equal++
			}
		})
	}
	t.Logf("nginx parity: %d of %d client certificates gave identical Client-Cert bytes", equal, len(cases))
	assert.Equal(t, len(cases), equal)
}

// runNginx runs nginx in the foreground with the config at conf (its
// prefix and error log in dir), stops it when the test ends, and returns
// its address once it accepts connections on port.
func runNginx(t *testing.T, nginx, dir, conf string, port int) string {
	t.Helper()
	cmd := exec.Command(nginx, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
	out := &testtool.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		select {
		case err := <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %v\n%s\n%s", err, out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
