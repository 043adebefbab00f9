//go:build !linux

package rawconn

import "net"

// Wrap returns c unchanged: only Linux is wrapped.
func Wrap(c net.Conn) net.Conn { return c }
