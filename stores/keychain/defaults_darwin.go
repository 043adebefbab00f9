package keychain

import (
	"context"
	"log/slog"

	"github.com/certsight/certsight/stores"
)

func defaultSources(ctx context.Context, log *slog.Logger, root string) []stores.Source {
	return macOSDefaults(ctx, log, root)
}
