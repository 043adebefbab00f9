//go:build !windows

package winstore

import (
	"context"
	"log/slog"

	"github.com/certsight/certsight/stores"
)

// defaultSources is empty off Windows: element files there are only read
// when a path names them (also under a root: its layout is taken to be this
// OS's).
func defaultSources(context.Context, *slog.Logger, string) []stores.Source { return nil }
