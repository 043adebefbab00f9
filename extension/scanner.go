package main

import (
	"log/slog"

	"github.com/certsight/certsight/stores/scan"
	"github.com/certsight/certsight/tables"
)

func newScanner(log *slog.Logger) tables.Scanner { return scan.New(log) }
