package testpipe

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"sync"
	"time"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"
)

// go-winio's pipe server never accepts under Wine 8.0, so Listen serves the
// pipe with plain CreateNamedPipe + ConnectNamedPipe and synchronous I/O:
// one instance waits for a client at a time. Clients (certsight.exe, Dial)
// use go-winio, as on Windows.

// Listen serves the named pipe path (\\.\pipe\...). Like net.Listen, the
// name exists when Listen returns: a client may dial before Accept runs.
func Listen(path string) (net.Listener, error) {
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, err
	}
	l := &pipeListener{path: path, name: name}
	if l.next, err = l.instance(); err != nil {
		return nil, err
	}
	return l, nil
}

// Path is a pipe name derived from the scratch directory dir, so that
// parallel tests never share one; short, because osquery-go refuses a
// socket path over 97 characters on Windows too.
func Path(dir string) string {
	h := fnv.New64a()
	h.Write([]byte(dir))
	return fmt.Sprintf(`\\.\pipe\certsight-test-%016x-osquery.em`, h.Sum64())
}

// Dial connects to the pipe at path, as osqueryd does.
func Dial(path string) (net.Conn, error) {
	timeout := time.Second
	return winio.DialPipe(path, &timeout)
}

// pipeListener keeps one unconnected instance of the pipe (next) at all
// times, so that the name never disappears between two Accepts.
type pipeListener struct {
	path string
	name *uint16

	mu      sync.Mutex
	closed  bool
	next    windows.Handle // created, not yet waited on
	waiting windows.Handle // in ConnectNamedPipe
}

func (l *pipeListener) instance() (windows.Handle, error) {
	h, err := windows.CreateNamedPipe(l.name, windows.PIPE_ACCESS_DUPLEX,
		windows.PIPE_TYPE_BYTE|windows.PIPE_READMODE_BYTE|windows.PIPE_WAIT,
		windows.PIPE_UNLIMITED_INSTANCES, 64<<10, 64<<10, 0, nil)
	if err != nil {
		return 0, &os.PathError{Op: "CreateNamedPipe", Path: l.path, Err: err}
	}
	return h, nil
}

func (l *pipeListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, net.ErrClosed
	}
	h := l.next
	l.next = 0
	if h == 0 {
		var err error
		if h, err = l.instance(); err != nil {
			l.mu.Unlock()
			return nil, err
		}
	}
	l.waiting = h
	l.mu.Unlock()

	err := windows.ConnectNamedPipe(h, nil)
	l.mu.Lock()
	l.waiting = 0
	closed := l.closed
	if !closed {
		l.next, _ = l.instance() // on failure the next Accept tries again
	}
	l.mu.Unlock()
	if closed {
		windows.CloseHandle(h)
		return nil, net.ErrClosed
	}
	if err != nil && !errors.Is(err, windows.ERROR_PIPE_CONNECTED) {
		windows.CloseHandle(h)
		return nil, &os.PathError{Op: "ConnectNamedPipe", Path: l.path, Err: err}
	}
	return &pipeConn{h: h, f: os.NewFile(uintptr(h), l.path), addr: pipeAddr(l.path)}, nil
}

// Close stops Accept: a client of our own completes the pending
// ConnectNamedPipe, which then sees the listener closed.
func (l *pipeListener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	waiting, next := l.waiting, l.next
	l.next = 0
	l.mu.Unlock()
	if next != 0 {
		windows.CloseHandle(next)
	}
	if waiting != 0 {
		if h, err := windows.CreateFile(l.name, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, nil, windows.OPEN_EXISTING, 0, 0); err == nil {
			windows.CloseHandle(h)
		}
	}
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr(l.path) }

type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }

// pipeConn is one connected pipe instance. Close disconnects the client
// first, which also ends a read blocked on the handle. Deadlines are not
// supported (synchronous I/O): callers bound their waits themselves.
type pipeConn struct {
	h    windows.Handle
	f    *os.File
	addr pipeAddr
	once sync.Once
}

func (c *pipeConn) Read(b []byte) (int, error) {
	n, err := c.f.Read(b)
	if err != nil && n == 0 {
		return 0, net.ErrClosed
	}
	return n, nil
}

func (c *pipeConn) Write(b []byte) (int, error) { return c.f.Write(b) }

func (c *pipeConn) Close() error {
	c.once.Do(func() {
		windows.DisconnectNamedPipe(c.h)
		c.f.Close()
	})
	return nil
}

func (c *pipeConn) LocalAddr() net.Addr              { return c.addr }
func (c *pipeConn) RemoteAddr() net.Addr             { return c.addr }
func (c *pipeConn) SetDeadline(time.Time) error      { return nil }
func (c *pipeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *pipeConn) SetWriteDeadline(time.Time) error { return nil }
