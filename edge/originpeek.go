//go:build linux || darwin

package edge

import "syscall"

const peekSupported = true

// peek looks at the socket without consuming or waiting (MSG_PEEK |
// MSG_DONTWAIT); it always reports done, so RawConn.Read never blocks.
func (oc *originConn) peek(fd uintptr) bool {
	oc.peekN, _, oc.peekErr = syscall.Recvfrom(int(fd), oc.peekByte[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return true
}
