package winstore

import (
	"context"
	"log/slog"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"

	"github.com/certsight/certsight/stores"
)

// profileListKey lists every user profile on the machine by SID.
const profileListKey = `SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList`

func defaultSources(ctx context.Context, log *slog.Logger, root string) []stores.Source {
	if root != "" {
		return rootedSources(ctx, log, root)
	}
	var out []stores.Source
	if keyExists(registry.LOCAL_MACHINE, SystemMyKey) {
		out = append(out, stores.Source{Path: systemRegistryPath, Location: stores.LocationSystem})
	}
	if ctx.Err() != nil {
		return out
	}
	profiles := listProfiles(ctx, log)
	return append(out, userSources(profiles, isDir, func(sub string) bool { return keyExists(registry.USERS, sub) })...)
}

func keyExists(root registry.Key, sub string) bool {
	k, err := registry.OpenKey(root, sub, registry.QUERY_VALUE)
	if err != nil {
		return false
	}
	k.Close()
	return true
}

// listProfiles reads ProfileList: each SID's profile folder, and the account
// name the SID resolves to (the folder name when it does not resolve).
func listProfiles(ctx context.Context, log *slog.Logger) []profile {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, profileListKey, registry.ENUMERATE_SUB_KEYS)
	if err != nil {
		log.Debug("opening ProfileList", "err", err)
		return nil
	}
	defer k.Close()
	sids, err := k.ReadSubKeyNames(-1)
	if err != nil {
		log.Debug("listing ProfileList", "err", err)
		return nil
	}
	var out []profile
	for _, sid := range sids {
		if ctx.Err() != nil {
			break
		}
		p := profile{SID: sid, Home: profileHome(k, sid)}
		if s, err := windows.StringToSid(sid); err == nil {
			if account, _, _, err := s.LookupAccount(""); err == nil {
				p.Username = account
			}
		}
		out = append(out, p)
	}
	return out
}

func profileHome(list registry.Key, sid string) string {
	k, err := registry.OpenKey(list, sid, registry.QUERY_VALUE)
	if err != nil {
		return ""
	}
	defer k.Close()
	v, _, err := k.GetStringValue("ProfileImagePath")
	if err != nil {
		return ""
	}
	if x, err := registry.ExpandString(v); err == nil {
		return x
	}
	return v
}
