//go:build !(linux || darwin || windows)

package edge

import "syscall"

// Without a non-blocking peek an idle connection cannot be checked before
// reuse, so the proxy keeps to http.Transport on these platforms.
const peekSupported = false

func (oc *originConn) peek(fd uintptr) bool {
	oc.peekErr = syscall.EINVAL
	return true
}
