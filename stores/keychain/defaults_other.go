//go:build !darwin

package keychain

import (
	"context"
	"log/slog"

	"github.com/certsight/certsight/stores"
)

// defaultSources is empty off macOS: keychain files there are only read when
// a path names them.
func defaultSources(context.Context, *slog.Logger) []stores.Source { return nil }
