package keychain

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/certsight/certsight/internal/fsafe"
	"github.com/certsight/certsight/stores"
)

// System and per-user keychain locations on macOS.
const (
	systemKeychain = "/Library/Keychains/System.keychain"
	usersDir       = "/Users"
)

// macOSDefaults lists the macOS default keychains of the file system mounted
// at root ("" for this machine's).
func macOSDefaults(ctx context.Context, log *slog.Logger, root string) []stores.Source {
	return findDefaults(ctx, log, fsafe.In(root), stores.Rooted(root, systemKeychain), stores.Rooted(root, usersDir))
}

// userKeychains are tried in order inside each home; macOS 10.12 and later
// name the login keychain login.keychain-db, older systems login.keychain.
var userKeychains = []string{"Library/Keychains/login.keychain-db", "Library/Keychains/login.keychain"}

// findDefaults lists the System keychain and each user's first existing login
// keychain under usersDir/<name>/.
func findDefaults(ctx context.Context, log *slog.Logger, fsys fsafe.FS, system, users string) []stores.Source {
	var out []stores.Source
	if fsys.IsRegular(system) {
		out = append(out, stores.Source{Path: system, Location: stores.LocationSystem})
	}
	homes, err := fsys.ReadDir(ctx, users)
	if err != nil {
		log.Debug("listing user homes", "dir", users, "err", err)
		return out
	}
	for _, h := range homes {
		if ctx.Err() != nil {
			return out
		}
		if !h.IsDir() || h.Name() == "Shared" || h.Name()[0] == '.' {
			continue
		}
		for _, rel := range userKeychains {
			p := filepath.Join(users, h.Name(), rel)
			if fsys.IsRegular(p) {
				out = append(out, stores.Source{Path: p, Location: stores.LocationUser, Username: h.Name()})
				break
			}
		}
	}
	return out
}
