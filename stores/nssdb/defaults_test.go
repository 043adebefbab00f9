package nssdb

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/fsafe"
	"github.com/certsight/certsight/stores"
)

func TestParsePasswd(t *testing.T) {
	in := `# comment
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash
broken line
sys:x:3:3:sys:/:/usr/sbin/nologin
:x:4:4::/home/empty:/bin/sh
`
	assert.Equal(t, []home{{"root", "/root"}, {"daemon", "/usr/sbin"}, {"alice", "/home/alice"}},
		parsePasswd(strings.NewReader(in)))
}

func TestDefaultSources(t *testing.T) {
	root := t.TempDir()
	mkdb := func(parts ...string) string {
		d := filepath.Join(append([]string{root}, parts...)...)
		require.NoError(t, os.MkdirAll(d, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(d, CertDBName), nil, 0o600))
		return d
	}
	system := mkdb("etc", "pki", "nssdb")
	chrome := mkdb("home", "alice", ".pki", "nssdb")
	ff1 := mkdb("home", "alice", ".mozilla", "firefox", "abcd.default-release")
	snap := mkdb("home", "alice", "snap", "firefox", "common", ".mozilla", "firefox", "x.default")
	ff147 := mkdb("home", "alice", ".config", "mozilla", "firefox", "n.default-release")
	flatpakCfg := mkdb("home", "alice", ".var", "app", "org.mozilla.firefox", "config", "mozilla", "firefox", "f.default")
	tb := mkdb("home", "alice", ".thunderbird", "t.default-release")
	tbSnap := mkdb("home", "alice", "snap", "thunderbird", "common", ".thunderbird", "s.default")
	tbFlatpak := mkdb("home", "alice", ".var", "app", "org.mozilla.Thunderbird", ".thunderbird", "p.default")
	// Glob metacharacters in a home folder are taken literally. Windows
	// forbids "*" in file names, so there the name keeps only the brackets.
	bob := "b[o]b*"
	if runtime.GOOS == "windows" {
		bob = "b[o]b"
	}
	weird := mkdb("home", bob, ".pki", "nssdb")
	legacy := filepath.Join(root, "home", "alice", ".mozilla", "firefox", "old.default")
	require.NoError(t, os.MkdirAll(legacy, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(legacy, LegacyDBName), nil, 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "home", "carol"), 0o755))

	homes := []home{
		{"alice", filepath.Join(root, "home", "alice")},
		{"alice2", filepath.Join(root, "home", "alice")}, // same home listed twice
		{"bob", filepath.Join(root, "home", bob)},
		{"carol", filepath.Join(root, "home", "carol")},
		{"dave", filepath.Join(root, "home", "dave")}, // no home directory
	}
	got := defaultSources(context.Background(), fsafe.FS{}, []string{system, filepath.Join(root, "missing")}, homes, userPatterns("linux"))
	assert.Equal(t, []stores.Source{
		{Path: system, Location: stores.LocationSystem},
		{Path: chrome, Location: stores.LocationUser, Username: "alice"},
		{Path: ff1, Location: stores.LocationUser, Username: "alice"},
		{Path: ff147, Location: stores.LocationUser, Username: "alice"},
		{Path: snap, Location: stores.LocationUser, Username: "alice"},
		{Path: flatpakCfg, Location: stores.LocationUser, Username: "alice"},
		{Path: tb, Location: stores.LocationUser, Username: "alice"},
		{Path: tbSnap, Location: stores.LocationUser, Username: "alice"},
		{Path: tbFlatpak, Location: stores.LocationUser, Username: "alice"},
		{Path: weird, Location: stores.LocationUser, Username: "bob"},
	}, got)
}

func TestUserPatternsPerOS(t *testing.T) {
	assert.Contains(t, userPatterns("linux"), ".pki/nssdb")
	assert.Contains(t, userPatterns("linux"), ".mozilla/firefox/*")
	assert.Contains(t, userPatterns("linux"), ".config/mozilla/firefox/*", "Firefox 147 and later")
	assert.Contains(t, userPatterns("linux"), ".thunderbird/*")
	assert.Contains(t, userPatterns("darwin"), "Library/Thunderbird/Profiles/*")
	assert.Contains(t, userPatterns("windows"), "AppData/Roaming/Thunderbird/Profiles/*")
	assert.Contains(t, userPatterns("darwin"), "Library/Application Support/Firefox/Profiles/*")
	assert.Contains(t, userPatterns("windows"), "AppData/Roaming/Mozilla/Firefox/Profiles/*")
	assert.Equal(t, []string{"/etc/pki/nssdb"}, systemDirs("linux"))
	assert.Empty(t, systemDirs("darwin"))
}

// Defaults on this machine returns only existing databases, each readable.
func TestDefaultsExistAndRead(t *testing.T) {
	r := New(nil)
	for _, src := range r.Defaults(context.Background()) {
		assert.True(t, IsDatabaseDir(src.Path), src.Path)
		assert.NotEmpty(t, src.Location)
		if src.Location == stores.LocationUser {
			assert.NotEmpty(t, src.Username, src.Path)
		}
	}
}

// userHomes under a root reads the root's own user list and returns the
// homes under it, for each OS layout.
func TestUserHomesUnderRoot(t *testing.T) {
	mkdirs := func(t *testing.T, root string, dirs ...string) {
		for _, d := range dirs {
			require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.FromSlash(d)), 0o755))
		}
	}
	passwd := "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n" +
		"nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\nevil:x:1001:1001::/../../outside:/bin/sh\n"
	tests := []struct {
		name  string
		goos  string
		setup func(t *testing.T, root string)
		want  func(root string) []home
	}{
		{"linux passwd of the root", "linux", func(t *testing.T, root string) {
			mkdirs(t, root, "etc")
			require.NoError(t, os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte(passwd), 0o600))
		}, func(root string) []home {
			return []home{
				{"root", filepath.Join(root, "root")},
				{"alice", filepath.Join(root, "home", "alice")},
				{"evil", filepath.Join(root, "outside")}, // ".." stays inside the root
			}
		}},
		{"darwin Users of the root", "darwin", func(t *testing.T, root string) {
			mkdirs(t, root, "Users/alice", "Users/Shared", "Users/.localized")
		}, func(root string) []home {
			return []home{{"alice", filepath.Join(root, "Users", "alice")}}
		}},
		{"windows Users of the root", "windows", func(t *testing.T, root string) {
			mkdirs(t, root, "Users/alice", "Users/Public", "Users/Default", "Users/bob")
		}, func(root string) []home {
			return []home{{"alice", filepath.Join(root, "Users", "alice")}, {"bob", filepath.Join(root, "Users", "bob")}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			tt.setup(t, root)
			got, err := userHomes(context.Background(), fsafe.In(root), tt.goos, root)
			require.NoError(t, err)
			assert.Equal(t, tt.want(root), got)
		})
	}

	t.Run("root without a user list", func(t *testing.T) {
		_, err := userHomes(context.Background(), fsafe.FS{}, "linux", t.TempDir())
		require.Error(t, err)
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
}

// Defaults with WithRoot finds the system and user databases of the mounted
// file system, under their real paths on this machine, and none of the host's.
func TestDefaultsWithRoot(t *testing.T) {
	root := t.TempDir()
	mkdb := func(parts ...string) string {
		d := filepath.Join(append([]string{root}, parts...)...)
		require.NoError(t, os.MkdirAll(d, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(d, CertDBName), nil, 0o600))
		return d
	}
	var want []stores.Source
	switch runtime.GOOS {
	case "linux":
		require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, "etc", "passwd"),
			[]byte("alice:x:1000:1000::/home/alice:/bin/bash\n"), 0o600))
		want = []stores.Source{
			{Path: mkdb("etc", "pki", "nssdb"), Location: stores.LocationSystem},
			{Path: mkdb("home", "alice", ".pki", "nssdb"), Location: stores.LocationUser, Username: "alice"},
		}
	case "darwin":
		want = []stores.Source{{Path: mkdb("Users", "alice", "Library", "Application Support", "Firefox", "Profiles", "x.default"),
			Location: stores.LocationUser, Username: "alice"}}
	case "windows":
		want = []stores.Source{{Path: mkdb("Users", "alice", "AppData", "Roaming", "Mozilla", "Firefox", "Profiles", "x.default"),
			Location: stores.LocationUser, Username: "alice"}}
	default:
		t.Skipf("no NSS default layout on %s", runtime.GOOS)
	}
	assert.Equal(t, want, New(nil, WithRoot(root)).Defaults(context.Background()))

	// An empty root has no defaults at all (not the host's).
	assert.Empty(t, New(nil, WithRoot(t.TempDir())).Defaults(context.Background()))
}

func TestParseProfilesINI(t *testing.T) {
	ini := `[Install4F96D1932A9F858E]
Default=/data/elsewhere/locked
Locked=1

[Profile1]
Name=work
IsRelative=0
Path=/data/profiles/work.profile

[Profile0]
Name=default
IsRelative=1
Path=abcd.default-release
Default=1

; a comment
[Profile2]
Path=/srv/not-marked-absolute
[Profile3]
IsRelative=0
Path=relative/but/says/absolute

[General]
StartWithLastProfile=1
Path=/ignored/general
`
	assert.Equal(t, []string{"/data/profiles/work.profile"}, parseProfilesINI([]byte(ini)))
	assert.Empty(t, parseProfilesINI([]byte("garbage\x00[[[=")))
}

// A profile that profiles.ini names by absolute path (IsRelative=0) is found
// under a --root image as inside it, with the user whose profiles.ini names
// it; one already found by a glob is not listed twice.
func TestDefaultsAbsoluteProfilesWithRoot(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux layout")
	}
	root := t.TempDir()
	mkdb := func(parts ...string) string {
		d := filepath.Join(append([]string{root}, parts...)...)
		require.NoError(t, os.MkdirAll(d, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(d, CertDBName), nil, 0o600))
		return d
	}
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc", "passwd"),
		[]byte("alice:x:1000:1000::/home/alice:/bin/bash\n"), 0o600))
	inFF := mkdb("home", "alice", ".config", "mozilla", "firefox", "abcd.default-release")
	outside := mkdb("data", "profiles", "work")
	tbOutside := mkdb("srv", "mail", "alice")
	ini := "[Profile0]\nIsRelative=0\nPath=/data/profiles/work\n[Profile1]\nIsRelative=0\nPath=" + inFF + "\n" +
		"[Profile2]\nIsRelative=0\nPath=/home/alice/.config/mozilla/firefox/abcd.default-release\n"
	require.NoError(t, os.WriteFile(filepath.Join(root, "home", "alice", ".config", "mozilla", "firefox", "profiles.ini"), []byte(ini), 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "home", "alice", ".thunderbird"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "home", "alice", ".thunderbird", "profiles.ini"),
		[]byte("[Profile0]\nIsRelative=0\nPath=/srv/mail/alice\n"), 0o600))
	got := New(nil, WithRoot(root)).Defaults(context.Background())
	assert.Equal(t, []stores.Source{
		{Path: inFF, Location: stores.LocationUser, Username: "alice"},
		{Path: outside, Location: stores.LocationUser, Username: "alice"},
		{Path: tbOutside, Location: stores.LocationUser, Username: "alice"},
	}, got)
}
