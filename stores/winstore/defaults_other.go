//go:build !windows

package winstore

import (
	"context"
	"log/slog"

	"github.com/certsight/certsight/stores"
)

// defaultSources is empty off Windows: element files there are only read
// when a path names them.
func defaultSources(context.Context, *slog.Logger) []stores.Source { return nil }
