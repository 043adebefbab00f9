package extension_test

import (
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"
)

// osquery's extension socket on Windows is a named pipe (\\.\pipe\...).
// go-winio's pipe server never accepts under Wine 8.0, so the fake manager
// serves the pipe with plain CreateNamedPipe + ConnectNamedPipe and
// synchronous I/O: one instance waits for a client at a time.

func listen(sock string) (net.Listener, error) {
	name, err := windows.UTF16PtrFromString(sock)
	if err != nil {
		return nil, err
	}
	return &pipeListener{path: sock, name: name}, nil
}

// socketPath is the extension socket the fake manager serves: a pipe name
// derived from the test's scratch directory.
func socketPath(dir string) string {
	return `\\.\pipe\certsight-test-` + sanitize(dir) + "-osquery.em"
}

// needExtensionServer skips where certsight.exe cannot serve its own
// extension pipe: osquery-go serves it with go-winio's ListenPipe, whose
// Accept never completes under Wine 8.0 (the manager side, served here with
// CreateNamedPipe, works). On Windows itself the test runs.
func needExtensionServer(t testing.TB) {
	t.Helper()
	if underWine() && os.Getenv("CERTSIGHT_WINE_TRY_EXTENSION_PIPE") == "" {
		t.Skip("under Wine 8.0 go-winio's pipe server (osquery-go's extension socket) never accepts; " +
			"the manager-to-extension calls run on real Windows only (CERTSIGHT_WINE_TRY_EXTENSION_PIPE=1 tries anyway)")
	}
}

// underWine reports whether ntdll is Wine's.
func underWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\\' || c == '/' || c == ':' {
			b[i] = '-'
		}
	}
	return string(b)
}

type pipeListener struct {
	path string
	name *uint16

	mu      sync.Mutex
	closed  bool
	waiting windows.Handle
}

func (l *pipeListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, net.ErrClosed
	}
	h, err := windows.CreateNamedPipe(l.name, windows.PIPE_ACCESS_DUPLEX,
		windows.PIPE_TYPE_BYTE|windows.PIPE_READMODE_BYTE|windows.PIPE_WAIT,
		windows.PIPE_UNLIMITED_INSTANCES, 64<<10, 64<<10, 0, nil)
	if err != nil {
		l.mu.Unlock()
		return nil, &os.PathError{Op: "CreateNamedPipe", Path: l.path, Err: err}
	}
	l.waiting = h
	l.mu.Unlock()

	err = windows.ConnectNamedPipe(h, nil)
	l.mu.Lock()
	l.waiting = 0
	closed := l.closed
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
	waiting := l.waiting
	l.mu.Unlock()
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
// first, which also ends a read blocked on the handle.
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

// dial connects to a pipe the extension serves, as osqueryd does.
func dial(path string) (net.Conn, error) {
	timeout := time.Second
	return winio.DialPipe(path, &timeout)
}
