//go:build unix

package posture_test

import (
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/posture"
)

// TestAddCAWritesThroughSymlinks: a symlinked config stays a link; its
// target is updated and keeps its owner, group and mode.
func TestAddCAWritesThroughSymlinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks and owners")
	}
	dir := t.TempDir()
	real := filepath.Join(dir, "managed", "posture.json")
	require.NoError(t, os.MkdirAll(filepath.Dir(real), 0o755))
	require.NoError(t, os.WriteFile(real, []byte(`{"mtls_certificates": [], "rules": []}`), 0o640))
	require.NoError(t, os.Chmod(real, 0o640))
	uid, gid := os.Geteuid(), os.Getegid()
	if uid == 0 {
		uid, gid = 4242, 4343 // root can give the file away, as a packaging tool would
		require.NoError(t, os.Chown(real, uid, gid))
	}
	link := filepath.Join(dir, "etc", "posture.json")
	require.NoError(t, os.MkdirAll(filepath.Dir(link), 0o755))
	require.NoError(t, os.Symlink("../managed/posture.json", link))

	_, _, err := posture.AddCA(link, caPEMs(t, 1)[0], "linked", time.Now())
	require.NoError(t, err)

	fi, err := os.Lstat(link)
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&os.ModeSymlink, "the link is still a link")
	assert.Equal(t, 1, registered(t, real), "the target got the entry")
	st, err := os.Stat(real)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), st.Mode().Perm())
	sys := st.Sys().(*syscall.Stat_t)
	assert.Equal(t, uint32(uid), sys.Uid)
	assert.Equal(t, uint32(gid), sys.Gid)
}
