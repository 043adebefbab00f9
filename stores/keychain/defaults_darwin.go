package keychain

import (
	"context"
	"log/slog"

	"github.com/certsight/certsight/stores"
)

// System and per-user keychain locations on macOS.
const (
	systemKeychain = "/Library/Keychains/System.keychain"
	usersDir       = "/Users"
)

func defaultSources(ctx context.Context, log *slog.Logger) []stores.Source {
	return findDefaults(ctx, log, systemKeychain, usersDir)
}
