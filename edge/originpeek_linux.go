package edge

import (
	"syscall"
	"unsafe"
)

// peekSocket is recvfrom(MSG_PEEK|MSG_DONTWAIT) without telling the
// scheduler: it never blocks (see internal/rawconn for why that matters).
func peekSocket(fd uintptr, b []byte) (int, error) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		return int(r), e
	}
	return int(r), nil
}
