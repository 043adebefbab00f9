package nssdb

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/certsight/certsight/internal/fsafe"
	"github.com/certsight/certsight/stores"
)

// Defaults returns the NSS databases of this machine that exist: the
// system database /etc/pki/nssdb (Linux) and, for each user, ~/.pki/nssdb
// (Chrome/Chromium and NSS tools) and the Firefox and Thunderbird profiles.
// With WithRoot, those of the file system mounted there.
func (r *Reader) Defaults(ctx context.Context) []stores.Source {
	fsys := fsafe.In(r.cfg.Root)
	homes, err := userHomes(ctx, fsys, runtime.GOOS, r.cfg.Root)
	if err != nil {
		r.cfg.Log.Debug("listing user home directories", "err", err)
	}
	out := defaultSources(ctx, fsys, rootedAll(r.cfg.Root, systemDirs(runtime.GOOS)), homes, userPatterns(runtime.GOOS))
	return append(out, absoluteProfiles(ctx, fsys, r.cfg.Root, homes, profileRoots(runtime.GOOS), out)...)
}

// rootedAll returns paths under root (stores.Rooted).
func rootedAll(root string, paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = stores.Rooted(root, p)
	}
	return out
}

// home is one user's home directory.
type home struct{ user, dir string }

// systemDirs lists the machine-wide NSS databases of goos.
func systemDirs(goos string) []string {
	if goos == "linux" {
		return []string{"/etc/pki/nssdb"}
	}
	return nil
}

// userPatterns lists, relative to a home directory, the globs where goos
// keeps per-user NSS databases: Chrome's, then every profile of Firefox and
// Thunderbird (profileRoots), in their native, snap and flatpak forms.
func userPatterns(goos string) []string {
	var out []string
	if goos != "darwin" && goos != "windows" {
		out = append(out, ".pki/nssdb")
	}
	for _, r := range profileRoots(goos) {
		out = append(out, r+"/"+profilesDir(goos)+"*")
	}
	return out
}

// profilesDir is where profiles sit inside a profile root: "Profiles/" on
// macOS and Windows, the root itself elsewhere.
func profilesDir(goos string) string {
	if goos == "darwin" || goos == "windows" {
		return "Profiles/"
	}
	return ""
}

// profileRoots lists, relative to a home directory, the folders of goos
// that hold Mozilla profiles and their profiles.ini.
func profileRoots(goos string) []string {
	switch goos {
	case "darwin":
		return []string{"Library/Application Support/Firefox", "Library/Thunderbird"}
	case "windows":
		return []string{"AppData/Roaming/Mozilla/Firefox", "AppData/Roaming/Thunderbird"}
	}
	return []string{
		// Firefox before 147, and from 147 on (XDG: ~/.config/mozilla/firefox).
		".mozilla/firefox",
		".config/mozilla/firefox",
		// Snap (the snap's $HOME is ~/snap/<name>/common).
		"snap/firefox/common/.mozilla/firefox",
		"snap/firefox/common/.config/mozilla/firefox",
		// Flatpak (the app's $HOME files under ~/.var/app/<id>, its
		// XDG_CONFIG_HOME is ~/.var/app/<id>/config).
		".var/app/org.mozilla.firefox/.mozilla/firefox",
		".var/app/org.mozilla.firefox/config/mozilla/firefox",
		// Thunderbird: native, snap, flatpak (both ids it has had).
		".thunderbird",
		"snap/thunderbird/common/.thunderbird",
		".var/app/org.mozilla.Thunderbird/.thunderbird",
		".var/app/net.thunderbird.Thunderbird/.thunderbird",
	}
}

// maxProfilesINI bounds profiles.ini (a real one is a few hundred bytes).
const maxProfilesINI = 1 << 20

// absoluteProfiles returns the profiles that a profiles.ini names by
// absolute path (IsRelative=0: a profile kept outside the profile root),
// which no glob finds. Each path is taken under root, as a chroot would
// (an image's profiles.ini names paths inside the image), and kept when it
// holds a cert9.db and is not already in have.
func absoluteProfiles(ctx context.Context, fsys fsafe.FS, root string, homes []home, roots []string, have []stores.Source) []stores.Source {
	seen := map[string]bool{}
	for _, s := range have {
		seen[filepath.Clean(s.Path)] = true
	}
	done := map[string]bool{}
	var out []stores.Source
	for _, h := range homes {
		if ctx.Err() != nil || done[h.dir] {
			continue
		}
		done[h.dir] = true
		for _, r := range roots {
			data, err := fsys.ReadFile(ctx, filepath.Join(h.dir, filepath.FromSlash(r), "profiles.ini"), maxProfilesINI)
			if err != nil {
				continue
			}
			for _, p := range parseProfilesINI(data) {
				dir := filepath.Clean(stores.Rooted(root, p))
				if !seen[dir] && hasCertDB(fsys, dir) {
					seen[dir] = true
					out = append(out, stores.Source{Path: dir, Location: stores.LocationUser, Username: h.user})
				}
			}
		}
	}
	return out
}

// parseProfilesINI returns the absolute profile paths of a profiles.ini:
// the Path of each [Profile…] section whose IsRelative is 0.
func parseProfilesINI(data []byte) []string {
	var out []string
	var inProfile, relative bool
	var path string
	flush := func() {
		if inProfile && !relative && path != "" && (filepath.IsAbs(path) || strings.HasPrefix(path, "/")) {
			out = append(out, path)
		}
		inProfile, relative, path = false, true, ""
	}
	flush()
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "["):
			flush()
			inProfile = strings.HasPrefix(strings.ToLower(line), "[profile")
		case strings.HasPrefix(line, ";") || strings.HasPrefix(line, "#"):
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "Path":
				path = strings.TrimSpace(v)
			case "IsRelative":
				relative = strings.TrimSpace(v) != "0"
			}
		}
	}
	flush()
	return out
}

// defaultSources keeps the candidate directories that hold a cert9.db
// (a legacy-only profile is not a default worth an error on every query).
func defaultSources(ctx context.Context, fsys fsafe.FS, system []string, homes []home, patterns []string) []stores.Source {
	var out []stores.Source
	for _, d := range system {
		if hasCertDB(fsys, d) {
			out = append(out, stores.Source{Path: d, Location: stores.LocationSystem})
		}
	}
	seen := map[string]bool{}
	for _, h := range homes {
		if ctx.Err() != nil || seen[h.dir] {
			continue
		}
		seen[h.dir] = true
		for _, pat := range patterns {
			// fsafe.Glob never follows a link that a wildcard matched (a
			// profile linked out of the home or the root).
			matches, _ := fsys.Glob(ctx, filepath.Join(escapeGlob(h.dir), filepath.FromSlash(pat)))
			slices.Sort(matches)
			for _, m := range matches {
				if hasCertDB(fsys, m) {
					out = append(out, stores.Source{Path: m, Location: stores.LocationUser, Username: h.user})
				}
			}
		}
	}
	return out
}

func hasCertDB(fsys fsafe.FS, dir string) bool { return fsys.IsRegular(filepath.Join(dir, CertDBName)) }

// escapeGlob quotes the glob metacharacters of a literal path.
func escapeGlob(p string) string {
	if runtime.GOOS == "windows" { // '\' is the separator there, not an escape
		return strings.NewReplacer("*", "[*]", "?", "[?]", "[", "[[]").Replace(p)
	}
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`).Replace(p)
}

// userHomes lists the users' home directories of goos, of the file system
// mounted at root ("" for this machine's): the folders under /Users (macOS)
// or \Users (Windows, without a drive letter under a root), or the homes in
// /etc/passwd (others), each taken under root.
func userHomes(ctx context.Context, fsys fsafe.FS, goos, root string) ([]home, error) {
	switch goos {
	case "darwin":
		return homesUnder(ctx, fsys, stores.Rooted(root, "/Users"), "Shared")
	case "windows":
		users := stores.Rooted(root, "/Users")
		if root == "" {
			drive := os.Getenv("SystemDrive")
			if drive == "" {
				drive = "C:"
			}
			users = drive + `\Users`
		}
		return homesUnder(ctx, fsys, users, "Public", "Default", "Default User", "All Users")
	}
	// Read like a store file: a FIFO as ROOT/etc/passwd is refused.
	data, err := fsys.ReadFile(ctx, stores.Rooted(root, "/etc/passwd"), 16<<20)
	if err != nil {
		return nil, err
	}
	homes := parsePasswd(bytes.NewReader(data))
	for i := range homes {
		homes[i].dir = stores.Rooted(root, homes[i].dir)
	}
	return homes, nil
}

// homesUnder lists the directories under root, named after their users.
func homesUnder(ctx context.Context, fsys fsafe.FS, root string, skip ...string) ([]home, error) {
	des, err := fsys.ReadDir(ctx, root)
	if err != nil {
		return nil, err
	}
	var out []home
	for _, de := range des {
		if !de.IsDir() || strings.HasPrefix(de.Name(), ".") || slices.Contains(skip, de.Name()) {
			continue
		}
		out = append(out, home{user: de.Name(), dir: filepath.Join(root, de.Name())})
	}
	return out, nil
}

// parsePasswd reads name and home directory from /etc/passwd lines,
// skipping accounts without a real home.
func parsePasswd(r io.Reader) []home {
	var out []home
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < 7 || f[0] == "" {
			continue
		}
		dir := f[5]
		if dir == "" || dir == "/" || strings.HasPrefix(dir, "/nonexistent") || dir == "/dev/null" {
			continue
		}
		out = append(out, home{user: f[0], dir: dir})
	}
	return out
}
