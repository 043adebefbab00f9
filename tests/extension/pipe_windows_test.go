package extension_test

import (
	"net"
	"os"
	"testing"

	"github.com/certsight/certsight/internal/testpipe"
	"github.com/certsight/certsight/internal/testtool"
)

// osquery's extension socket on Windows is a named pipe (\\.\pipe\...),
// served for the fake manager by testpipe.

func listen(sock string) (net.Listener, error) { return testpipe.Listen(sock) }

// socketPath is the extension socket the fake manager serves: a pipe name
// derived from the test's scratch directory.
func socketPath(dir string) string { return testpipe.Path(dir) }

// needExtensionServer skips where certsight.exe cannot serve its own
// extension pipe: osquery-go serves it with go-winio's ListenPipe, whose
// Accept never completes under Wine 8.0 (the manager side, served by
// testpipe with CreateNamedPipe, works). On Windows itself the test runs.
func needExtensionServer(t testing.TB) {
	t.Helper()
	if testtool.UnderWine() && os.Getenv("CERTSIGHT_WINE_TRY_EXTENSION_PIPE") == "" {
		t.Skip("under Wine 8.0 go-winio's pipe server (osquery-go's extension socket) never accepts; " +
			"the manager-to-extension calls run on real Windows only (CERTSIGHT_WINE_TRY_EXTENSION_PIPE=1 tries anyway)")
	}
}

// dial connects to a pipe the extension serves, as osqueryd does.
func dial(path string) (net.Conn, error) { return testpipe.Dial(path) }
