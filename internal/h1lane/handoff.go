package h1lane

import (
	"crypto/tls"
	"net"
	"sync"
)

// handoffConn is a TLS connection whose first reads return bytes already
// read from it: what net/http read ahead of the lane, and what the lane
// hands back to net/http. net/http sets Request.TLS from its
// ConnectionState (it is not a *tls.Conn).
type handoffConn struct {
	*tls.Conn
	pending []byte
}

func (c *handoffConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// NetConn is the TLS connection, so hooks that look for their own wrapper
// below it (the edge's guard and connection state) still find it.
func (c *handoffConn) NetConn() net.Conn { return c.Conn }

// handoffListener is a net.Listener fed by the lane.
type handoffListener struct {
	conns  chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newHandoffListener() *handoffListener {
	return &handoffListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// give hands c to Accept; false (c closed) once the listener is closed.
func (l *handoffListener) give(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		c.Close()
		return false
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return handoffAddr{} }

type handoffAddr struct{}

func (handoffAddr) Network() string { return "h1lane" }
func (handoffAddr) String() string  { return "h1lane-handoff" }
