package main

import (
	"log/slog"

	"github.com/certsight/certsight/stores/scan"
	"github.com/certsight/certsight/tables"
)

// newScanner reads the default stores of the file system mounted at root
// ("" for this machine's).
func newScanner(log *slog.Logger, root string) tables.Scanner {
	return scan.New(log, scan.WithRoot(root))
}
