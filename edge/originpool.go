package edge

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/certsight/certsight/internal/deadline"
	"github.com/certsight/certsight/internal/rawconn"
)

// originPool keeps idle HTTP/1.1 connections to the origin for the fast
// path: at most maxIdle, newest first, none idle longer than idleTimeout.
// A connection is in the pool or owned by exactly one request.
type originPool struct {
	addr        string
	dialer      net.Dialer
	maxIdle     int
	idleTimeout time.Duration

	mu   sync.Mutex
	idle []*originConn
}

type originConn struct {
	c      net.Conn
	raw    syscall.RawConn
	br     *bufio.Reader
	bw     *bufio.Writer
	last   time.Time // when it went idle
	reused bool      // it carried a request before this one
	// deadline is the read deadline exchange set last.
	deadline deadline.Lazy

	// peekFn is peek as a method value, made once per connection so
	// clean() does not allocate.
	peekFn   func(fd uintptr) bool
	peekN    int
	peekErr  error
	peekByte [1]byte
}

func (p *originPool) get(ctx context.Context) (*originConn, error) {
	now := time.Now()
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		oc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if now.Sub(oc.last) > p.idleTimeout || !oc.clean() {
			oc.close()
			continue
		}
		oc.reused = true
		return oc, nil
	}
	c, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, fmt.Errorf("dialing origin: %w", err)
	}
	c = rawconn.Wrap(c)
	sc, ok := c.(syscall.Conn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("dialing origin: %T has no raw connection", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("dialing origin: %w", err)
	}
	oc := &originConn{c: c, raw: raw, br: bufio.NewReaderSize(c, 4096), bw: bufio.NewWriterSize(c, 4096)}
	oc.peekFn = oc.peek
	return oc, nil
}

// put returns a connection after a complete exchange; the oldest idle
// connection goes if it has been idle too long, the newest if the pool is
// full.
func (p *originPool) put(oc *originConn) {
	oc.last = time.Now()
	var stale *originConn
	p.mu.Lock()
	if len(p.idle) > 0 && oc.last.Sub(p.idle[0].last) > p.idleTimeout {
		stale = p.idle[0]
		p.idle = append(p.idle[:0], p.idle[1:]...)
	}
	full := len(p.idle) >= p.maxIdle
	if !full {
		p.idle = append(p.idle, oc)
	}
	p.mu.Unlock()
	if stale != nil {
		stale.close()
	}
	if full {
		oc.close()
	}
}

// closeIdle closes every idle connection.
func (p *originPool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, oc := range idle {
		oc.close()
	}
}

// clean reports whether an idle connection is still open and has received
// nothing since its last response: bytes arriving unasked would be read as
// the next request's response (http.Transport watches idle connections for
// the same reason). One non-blocking peek at the socket.
func (oc *originConn) clean() bool {
	if oc.br.Buffered() > 0 {
		return false
	}
	oc.peekN, oc.peekErr = 0, nil
	if err := oc.raw.Read(oc.peekFn); err != nil {
		return false
	}
	// Nothing to read (EAGAIN) is the one clean answer; 0 bytes is the
	// origin's close, more is an unsolicited response.
	return oc.peekErr == syscall.EAGAIN
}

func (oc *originConn) close() { oc.c.Close() }

// headerDeadline bounds the wait for a response header by about d from
// now, moving the deadline only every eighth of d (deadline.Lazy), so
// back-to-back requests on a connection do not each update a timer.
func (oc *originConn) headerDeadline(now time.Time, d time.Duration) {
	if t, move := oc.deadline.Ahead(now, d); move {
		oc.c.SetReadDeadline(t)
	}
}

// aLongTimeAgo is a deadline in the past: setting it wakes a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// abort makes a blocked read or write on the connection fail at once.
func (oc *originConn) abort() { oc.c.SetDeadline(aLongTimeAgo) }
