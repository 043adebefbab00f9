package rawconn

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// maxRW caps one read or write, as internal/poll does: some kernels refuse
// counts of 1 GiB and more.
const maxRW = 1 << 30

// Conn is a *net.TCPConn whose Read and Write go through raw system calls.
// Everything else (deadlines, Close, CloseWrite, SyscallConn, addresses,
// and ReadFrom/WriteTo, which keep the kernel's splice and sendfile) is the
// TCPConn's.
type Conn struct {
	*net.TCPConn
	raw syscall.RawConn
	// network is what the connection was made on ("tcp", "tcp4", "tcp6"),
	// which net names in its errors.
	network string
	// The arguments and results of the call in progress, one set per
	// direction, so the callbacks RawConn runs are bound once (a closure
	// per call would allocate). The mutexes keep concurrent Reads (or
	// Writes) from sharing a set; the descriptor's own lock orders them
	// anyway.
	rmu    sync.Mutex
	rbuf   []byte
	rn     int
	rerrno syscall.Errno
	readFn func(uintptr) bool

	wmu     sync.Mutex
	wbuf    []byte
	wn      int
	werrno  syscall.Errno
	writeFn func(uintptr) bool
}

// Wrap returns c as a *Conn when it is a *net.TCPConn, and c unchanged
// otherwise (TLS, pipes, other networks). Call it on a fresh connection,
// before any deadline is set: it clears the read deadline.
func Wrap(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok || tc == nil {
		return c
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	rc := &Conn{TCPConn: tc, raw: raw, network: networkOf(tc, raw)}
	rc.readFn, rc.writeFn = rc.read, rc.write
	return rc
}

// networkOf learns the network the connection was made on from an error
// net builds itself (a read past its deadline); a TCPConn says it nowhere
// else.
func networkOf(tc *net.TCPConn, raw syscall.RawConn) string {
	network := "tcp"
	if tc.SetReadDeadline(time.Unix(1, 0)) == nil {
		var oe *net.OpError
		if err := raw.Read(func(uintptr) bool { return true }); errors.As(err, &oe) && oe.Net != "" {
			network = oe.Net
		}
		tc.SetReadDeadline(time.Time{})
	}
	return network
}

// Read reads like net.TCPConn.Read: 0, io.EOF at the peer's end of stream,
// *net.OpError for failures and deadlines.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		// net looks only at whether the descriptor is open (no deadline).
		if err := c.raw.Control(func(uintptr) {}); err != nil {
			if oe, ok := err.(*net.OpError); ok {
				err = oe.Err
			}
			return 0, &net.OpError{Op: "read", Net: c.network, Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
		}
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if len(p) > maxRW {
		p = p[:maxRW]
	}
	c.rbuf, c.rn, c.rerrno = p, 0, 0
	err := c.raw.Read(c.readFn)
	c.rbuf = nil
	switch {
	case err != nil:
		return 0, renameOp(err, "read") // deadline or closed
	case c.rerrno != 0:
		return 0, c.opError("read", c.rerrno)
	case c.rn == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return c.rn, nil
}

// read is the RawConn callback: one read(2), false (wait in the poller,
// as net does) when nothing is there yet.
func (c *Conn) read(fd uintptr) bool {
	n, errno, again := rawCall(syscall.SYS_READ, fd, c.rbuf)
	switch {
	case again:
		return false
	case errno != 0:
		c.rerrno = errno
	default:
		c.rn = n
		if raceEnabled && n > 0 {
			raceAfterRead(fd, c.rbuf[:n])
		}
	}
	return true
}

// rawCall makes one read(2) or write(2) (trap) of p on fd, again on EINTR;
// again reports that the socket would block (EAGAIN).
func rawCall(trap, fd uintptr, p []byte) (n int, errno syscall.Errno, again bool) {
	for {
		r, _, e := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, 0, true
		}
		return int(r), e, false
	}
}

// Write writes all of p, like net.TCPConn.Write, waiting in the poller
// while the socket's send buffer is full.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf, c.wn, c.werrno = p, 0, 0
	err := c.raw.Write(c.writeFn)
	n := c.wn
	c.wbuf = nil
	switch {
	case err != nil:
		return n, renameOp(err, "write")
	case c.werrno != 0:
		return n, c.opError("write", c.werrno)
	}
	return n, nil
}

func (c *Conn) write(fd uintptr) bool {
	p := c.wbuf
	if raceEnabled && c.wn == 0 && len(p) > 0 {
		raceBeforeWrite(fd, p)
	}
	for c.wn < len(p) {
		chunk := p[c.wn:]
		if len(chunk) > maxRW {
			chunk = chunk[:maxRW]
		}
		n, errno, again := rawCall(syscall.SYS_WRITE, fd, chunk)
		switch {
		case again:
			return false
		case errno != 0:
			c.werrno = errno
			return true
		}
		c.wn += n
	}
	return true
}

func (c *Conn) opError(op string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: c.network, Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError(op, errno)}
}

// renameOp gives RawConn's "raw-read"/"raw-write" errors the name net's own
// Read and Write use, so logs and callers matching on Op see no difference.
func renameOp(err error, op string) error {
	if oe, ok := err.(*net.OpError); ok {
		oe.Op = op
	}
	return err
}
