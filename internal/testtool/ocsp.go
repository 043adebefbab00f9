package testtool

import (
	"bufio"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// OCSPEntry is one certificate an OCSP responder knows: good, or revoked an
// hour ago.
type OCSPEntry struct {
	Serial  *big.Int
	Revoked bool
}

// opensslTime is the UTCTime form of an `openssl ca` index.
func opensslTime(t time.Time) string { return t.UTC().Format("060102150405Z") }

// OCSPIndex writes to path the `openssl ca` index that `openssl ocsp`
// answers from, listing entries (every other serial is unknown to the
// responder), and returns path.
func OCSPIndex(t testing.TB, path string, entries ...OCSPEntry) string {
	t.Helper()
	exp := opensslTime(time.Now().Add(24 * time.Hour))
	var b strings.Builder
	for i, e := range entries {
		state, revokedAt := "V", ""
		if e.Revoked {
			state, revokedAt = "R", opensslTime(time.Now().Add(-time.Hour))
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\tunknown\t/CN=c%d\n", state, exp, revokedAt, indexSerial(e.Serial), i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatalf("writing OCSP index: %v", err)
	}
	return path
}

// indexSerial spells a serial as `openssl ca` writes it into an index:
// upper-case hex, two digits per byte (OpenSSL 3's responder also finds an
// odd-length spelling, but the index stays in the form the tool writes).
func indexSerial(n *big.Int) string {
	s := strings.ToUpper(n.Text(16))
	if len(s)%2 == 1 {
		s = "0" + s
	}
	return s
}

// OCSPResponder runs `openssl ocsp` on 127.0.0.1:port (0 picks a free
// port) as the responder of the CA in caPEM, answering from index and
// signing with signerPEM/keyPEM, and returns its URL. It is killed when the
// test ends. Without openssl the test skips (fails under
// CERTSIGHT_REQUIRE_TOOLS=1).
func OCSPResponder(t testing.TB, index, caPEM, signerPEM, keyPEM string, port int) string {
	t.Helper()
	openssl := Need(t, "openssl")
	if port == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	cmd := exec.Command(openssl, "ocsp", "-index", index, "-CA", caPEM, "-rsigner", signerPEM, "-rkey", keyPEM,
		"-port", fmt.Sprint(port), "-nmin", "10", "-ignore_err")
	// Readiness is read from its stderr, not probed: a probe connection
	// would occupy the single-threaded responder.
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("openssl ocsp: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting openssl ocsp: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		var once sync.Once
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "waiting for OCSP client connections") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatalf("openssl ocsp (index %s) did not start", index)
	}
	return fmt.Sprintf("http://127.0.0.1:%d/", port)
}
