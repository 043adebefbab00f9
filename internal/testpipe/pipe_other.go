//go:build !windows

package testpipe

import (
	"net"
	"path/filepath"
)

// Listen serves a unix socket at path.
func Listen(path string) (net.Listener, error) { return net.Listen("unix", path) }

// Path is the socket osquery.em in dir (keep dir short: a unix socket path
// is limited to about 100 bytes).
func Path(dir string) string { return filepath.Join(dir, "osquery.em") }

// Dial connects to the socket at path.
func Dial(path string) (net.Conn, error) { return net.Dial("unix", path) }
