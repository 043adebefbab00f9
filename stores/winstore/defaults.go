package winstore

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/certsight/certsight/stores"
)

// profile is one user profile, as listed under the ProfileList registry key.
type profile struct {
	SID      string
	Home     string // ProfileImagePath, expanded
	Username string
}

// userStoreDir is the folder that holds a user's Personal (My) certificates,
// one element file per certificate, named by thumbprint.
func userStoreDir(home string) string {
	return filepath.Join(home, "AppData", "Roaming", "Microsoft", "SystemCertificates", "My", "Certificates")
}

// Default registry paths spell the root in full, as osquery's registry
// table does (HKEY_LOCAL_MACHINE\…, HKEY_USERS\…), and the store as "My".

// systemRegistryPath is the LocalMachine My store in the registry.
const systemRegistryPath = `HKEY_LOCAL_MACHINE\` + SystemMyKey

// userRegistryPath is a user's My store in the registry, present while the
// user's hive is loaded under HKEY_USERS.
func userRegistryPath(sid string) string { return `HKEY_USERS\` + sid + `\` + UserMyKey }

// isServiceSID reports the well-known service accounts (LocalSystem,
// LocalService, NetworkService): their profiles belong to no person.
func isServiceSID(sid string) bool {
	switch strings.ToUpper(sid) {
	case "S-1-5-18", "S-1-5-19", "S-1-5-20":
		return true
	}
	return false
}

// baseName returns the last element of a Windows or slash path.
func baseName(p string) string {
	p = strings.TrimRight(p, `\/`)
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// userSources lists, for each person's profile, the My store folder and the
// My store key of a loaded hive, keeping those that exist.
func userSources(profiles []profile, dirExists, keyExists func(string) bool) []stores.Source {
	var out []stores.Source
	for _, p := range profiles {
		if isServiceSID(p.SID) {
			continue
		}
		name := p.Username
		if name == "" {
			name = baseName(p.Home)
		}
		if p.Home != "" {
			if dir := userStoreDir(p.Home); dirExists(dir) {
				out = append(out, stores.Source{Path: dir, Location: stores.LocationUser, Username: name, SID: p.SID})
			}
		}
		if _, sub, _ := SplitRegistryPath(userRegistryPath(p.SID)); keyExists(sub) {
			out = append(out, stores.Source{Path: userRegistryPath(p.SID), Location: stores.LocationUser, Username: name, SID: p.SID})
		}
	}
	return out
}

// profileFolderSkip are the folders under \Users that are no person's profile.
var profileFolderSkip = []string{"Public", "Default", "Default User", "All Users"}

// rootedSources lists the My store folders of the profile folders under
// root\Users, the user stores of a Windows file system mounted at root. The
// registry has nothing to say about such a file system, so there are no
// SIDs, no system store and no registry stores.
func rootedSources(ctx context.Context, log *slog.Logger, root string) []stores.Source {
	users := stores.Rooted(root, "/Users")
	des, err := os.ReadDir(users)
	if err != nil {
		log.Debug("listing profile folders", "dir", users, "err", err)
		return nil
	}
	var profiles []profile
	for _, de := range des {
		if ctx.Err() != nil {
			break
		}
		if !de.IsDir() || strings.HasPrefix(de.Name(), ".") || slices.Contains(profileFolderSkip, de.Name()) {
			continue
		}
		profiles = append(profiles, profile{Home: filepath.Join(users, de.Name()), Username: de.Name()})
	}
	return userSources(profiles, isDir, func(string) bool { return false })
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
