//go:build windows

package main

import (
	"context"
	"net"

	"github.com/Microsoft/go-winio"
)

// osquery on Windows serves the extension manager on a named pipe.
func dialSocket(ctx context.Context, _ *net.Dialer, path string) (net.Conn, error) {
	return winio.DialPipeContext(ctx, path)
}
