//go:build !windows

package extension_test

import (
	"net"
	"path/filepath"
	"testing"
)

// listen serves the fake manager on a unix socket, osquery's extension
// socket everywhere but Windows.
func listen(sock string) (net.Listener, error) { return net.Listen("unix", sock) }

// socketPath is the extension socket in the test's scratch directory.
func socketPath(dir string) string { return filepath.Join(dir, "osquery.em") }

// needExtensionServer: unix sockets serve everywhere.
func needExtensionServer(testing.TB) {}

// dial connects to a socket the extension serves.
func dial(path string) (net.Conn, error) { return net.Dial("unix", path) }
