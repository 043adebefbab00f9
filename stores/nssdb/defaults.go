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
	fsys := fsafe.In(r.root)
	homes, err := userHomes(ctx, fsys, runtime.GOOS, r.root)
	if err != nil {
		r.log.Debug("listing user home directories", "err", err)
	}
	return defaultSources(ctx, fsys, rootedAll(r.root, systemDirs(runtime.GOOS)), homes, userPatterns(runtime.GOOS))
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
// keeps per-user NSS databases.
func userPatterns(goos string) []string {
	switch goos {
	case "darwin":
		return []string{
			"Library/Application Support/Firefox/Profiles/*",
			"Library/Thunderbird/Profiles/*",
		}
	case "windows":
		return []string{
			"AppData/Roaming/Mozilla/Firefox/Profiles/*",
			"AppData/Roaming/Thunderbird/Profiles/*",
		}
	}
	return []string{
		".pki/nssdb",
		".mozilla/firefox/*",
		"snap/firefox/common/.mozilla/firefox/*",
		".var/app/org.mozilla.firefox/.mozilla/firefox/*",
		".thunderbird/*",
	}
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
