//go:build !linux

package rawconn

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Only Linux is wrapped: everywhere else Wrap hands back what it got.
func TestWrapIsTheIdentityHere(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	for _, conn := range []net.Conn{c, p1, nil} {
		assert.True(t, Wrap(conn) == conn, "%T", conn)
	}
}
