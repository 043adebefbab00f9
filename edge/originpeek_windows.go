package edge

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

const peekSupported = true

var procWSAPoll = windows.NewLazySystemDLL("ws2_32.dll").NewProc("WSAPoll")

// wsaPollFD is WSAPOLLFD.
type wsaPollFD struct {
	fd      windows.Handle
	events  int16
	revents int16
}

const pollRdNorm = 0x0100 // POLLRDNORM

// peek asks WSAPoll, without waiting, whether the socket has anything to
// read: bytes or the origin's close both make it readable, and either makes
// the connection unfit for reuse (peekErr stays nil). Winsock has no
// MSG_DONTWAIT, and Go's sockets are overlapped, so this replaces the
// non-blocking MSG_PEEK of the unix build. It always reports done, so
// RawConn.Read never waits.
func (oc *originConn) peek(fd uintptr) bool {
	p := wsaPollFD{fd: windows.Handle(fd), events: pollRdNorm}
	n, _, err := procWSAPoll.Call(uintptr(unsafe.Pointer(&p)), 1, 0)
	switch {
	case int32(n) < 0: // SOCKET_ERROR
		oc.peekErr = err
	case n == 0:
		oc.peekErr = syscall.EAGAIN
	}
	return true
}
