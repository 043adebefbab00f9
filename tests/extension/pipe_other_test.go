//go:build !windows

package extension_test

import (
	"net"
	"testing"

	"github.com/certsight/certsight/internal/testpipe"
)

// listen serves the fake manager on a unix socket, osquery's extension
// socket everywhere but Windows.
func listen(sock string) (net.Listener, error) { return testpipe.Listen(sock) }

// socketPath is the extension socket in the test's scratch directory.
func socketPath(dir string) string { return testpipe.Path(dir) }

// needExtensionServer: unix sockets serve everywhere.
func needExtensionServer(testing.TB) {}

// dial connects to a socket the extension serves.
func dial(path string) (net.Conn, error) { return testpipe.Dial(path) }
