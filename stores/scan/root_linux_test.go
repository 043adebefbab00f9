package scan

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/stores"
)

// TestRootNeverReadsTheHost: under --root, a system database linked to the
// host (ROOT/etc/pki/nssdb -> /host/...), a home linked out of the root and
// a "../.." link all resolve inside the root, as in a chroot: the host's
// certificates are never reported under ROOT/... paths. A FIFO as
// ROOT/etc/passwd does not block.
func TestRootNeverReadsTheHost(t *testing.T) {
	copyDB := func(t *testing.T, to string) {
		for _, name := range []string{"cert9.db", "key4.db"} {
			data, err := os.ReadFile(filepath.Join(nssFixture(t, "basic"), name))
			require.NoError(t, err)
			require.NoError(t, os.MkdirAll(to, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(to, name), data, 0o600))
		}
	}
	host := t.TempDir()
	hostDB := filepath.Join(host, "hostdb")
	copyDB(t, hostDB)
	root := filepath.Join(host, "image")
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc", "pki"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "home"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc", "passwd"),
		[]byte("bob:x:1001:1001::/home/bob:/bin/sh\ncarol:x:1002:1002::/home/carol:/bin/sh\n"), 0o600))
	require.NoError(t, os.Symlink(hostDB, filepath.Join(root, "etc", "pki", "nssdb")))
	require.NoError(t, os.Symlink(host, filepath.Join(root, "home", "bob")))     // bob's home is the host's
	require.NoError(t, os.MkdirAll(filepath.Join(root, "home", "carol"), 0o755)) // carol climbs out
	require.NoError(t, os.Symlink("../../../../../../../../"+strings.TrimPrefix(hostDB, "/"), filepath.Join(root, "home", "carol", ".pki")))
	require.NoError(t, os.MkdirAll(filepath.Join(host, ".pki"), 0o755))
	require.NoError(t, os.Symlink(hostDB, filepath.Join(host, ".pki", "nssdb")))

	res := stores.Collect(New(nil, WithRoot(root)).Defaults(context.Background()))
	assert.Empty(t, res.Entries, "nothing of the host is read: %v", res.Entries)

	// The same layout read without a root follows the links, as the host sees them.
	res = stores.Collect(New(nil).Paths(context.Background(), []string{filepath.Join(root, "etc", "pki", "nssdb")}))
	assert.NotEmpty(t, res.Entries)

	// A FIFO as ROOT/etc/passwd.
	require.NoError(t, os.Remove(filepath.Join(root, "etc", "passwd")))
	require.NoError(t, mkfifo(filepath.Join(root, "etc", "passwd")))
	res = stores.Collect(New(nil, WithRoot(root)).Defaults(context.Background()))
	assert.Empty(t, res.Entries)
}
