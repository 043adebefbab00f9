package nssdb

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/certsight/certsight/stores"
)

// Defaults returns the NSS databases of this machine that exist: the
// system database /etc/pki/nssdb (Linux) and, for each user, ~/.pki/nssdb
// (Chrome/Chromium and NSS tools) and the Firefox and Thunderbird profiles.
func (r *Reader) Defaults(ctx context.Context) []stores.Source {
	homes, err := userHomes(runtime.GOOS)
	if err != nil {
		r.log.Debug("listing user home directories", "err", err)
	}
	return defaultSources(ctx, systemDirs(runtime.GOOS), homes, userPatterns(runtime.GOOS))
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
func defaultSources(ctx context.Context, system []string, homes []home, patterns []string) []stores.Source {
	var out []stores.Source
	for _, d := range system {
		if hasCertDB(d) {
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
			matches, _ := filepath.Glob(filepath.Join(escapeGlob(h.dir), filepath.FromSlash(pat)))
			slices.Sort(matches)
			for _, m := range matches {
				if hasCertDB(m) {
					out = append(out, stores.Source{Path: m, Location: stores.LocationUser, Username: h.user})
				}
			}
		}
	}
	return out
}

func hasCertDB(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, CertDBName))
	return err == nil && fi.Mode().IsRegular()
}

// escapeGlob quotes the glob metacharacters of a literal path.
func escapeGlob(p string) string {
	if runtime.GOOS == "windows" { // '\' is the separator there, not an escape
		return strings.NewReplacer("*", "[*]", "?", "[?]", "[", "[[]").Replace(p)
	}
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`).Replace(p)
}

// userHomes lists the users' home directories of goos.
func userHomes(goos string) ([]home, error) {
	switch goos {
	case "darwin":
		return homesUnder("/Users", "Shared")
	case "windows":
		drive := os.Getenv("SystemDrive")
		if drive == "" {
			drive = "C:"
		}
		return homesUnder(drive+`\Users`, "Public", "Default", "Default User", "All Users")
	}
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parsePasswd(f), nil
}

// homesUnder lists the directories under root, named after their users.
func homesUnder(root string, skip ...string) ([]home, error) {
	des, err := os.ReadDir(root)
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
