package testpipe

import (
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRoundTripAndClose: bytes go both ways between Dial and Listen's
// Accept, and Close ends an Accept that is waiting.
func TestRoundTripAndClose(t *testing.T) {
	dir, err := os.MkdirTemp("", "tp") // short: a unix socket path is limited to ~100 bytes
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := Path(dir)
	if runtime.GOOS == "windows" {
		assert.Regexp(t, `^\\\\\.\\pipe\\certsight-test-[^\\/:]+-osquery\.em$`, path)
	}
	l, err := Listen(path)
	require.NoError(t, err)

	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	c, err := Dial(path)
	require.NoError(t, err)
	defer c.Close()
	s := <-accepted
	require.NotNil(t, s, "Accept failed")
	defer s.Close()

	_, err = c.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(s, buf)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(buf))
	_, err = s.Write([]byte("pong"))
	require.NoError(t, err)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	assert.Equal(t, "pong", string(buf))

	// A second Accept waits; Close ends it with net.ErrClosed.
	errc := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, l.Close())
	select {
	case err := <-errc:
		assert.ErrorIs(t, err, net.ErrClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("Accept did not return after Close")
	}
}
