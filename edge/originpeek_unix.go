//go:build linux || darwin

package edge

const peekSupported = true

// peek looks at the socket without consuming or waiting (MSG_PEEK |
// MSG_DONTWAIT); it always reports done, so RawConn.Read never blocks.
func (oc *originConn) peek(fd uintptr) bool {
	oc.peekN, oc.peekErr = peekSocket(fd, oc.peekByte[:])
	return true
}
