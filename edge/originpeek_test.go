package edge

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIdleOriginConnectionCheck: an idle origin connection is reused only
// while nothing arrived on it; bytes sent unasked or the origin's close make
// it unfit, at once and without consuming anything (the peek of each OS).
func TestIdleOriginConnectionCheck(t *testing.T) {
	if !peekSupported {
		t.Skipf("no non-blocking peek on %s: the proxy keeps to http.Transport there", runtime.GOOS)
	}
	for _, tc := range []struct {
		name   string
		origin func(c net.Conn)
		clean  bool
	}{
		{"idle", func(net.Conn) {}, true},
		{"unsolicited bytes", func(c net.Conn) { c.Write([]byte("HTTP/1.1 200 OK\r\n")) }, false},
		{"closed by the origin", func(c net.Conn) { c.Close() }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				c, err := ln.Accept()
				if err == nil {
					accepted <- c
				}
			}()
			p := &originPool{addr: ln.Addr().String(), maxIdle: 1, idleTimeout: time.Minute}
			oc, err := p.get(context.Background())
			require.NoError(t, err)
			defer oc.close()
			srv := <-accepted
			defer srv.Close()
			assert.True(t, oc.clean(), "a fresh connection is clean")
			tc.origin(srv)
			if tc.clean {
				time.Sleep(50 * time.Millisecond)
				assert.True(t, oc.clean())
			} else {
				assert.Eventually(t, func() bool { return !oc.clean() }, 5*time.Second, 5*time.Millisecond)
			}
			if tc.name == "unsolicited bytes" {
				line, err := oc.br.ReadString('\n')
				require.NoError(t, err)
				assert.Equal(t, "HTTP/1.1 200 OK\r\n", line, "the check consumed nothing")
			}
		})
	}
}
