package fsafe

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func write(t *testing.T, path, data string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
}

// TestOpenRefusesWhatIsNotARegularFile: a FIFO (which would block a plain
// open forever), a directory and a device are refused at once.
func TestOpenRefusesWhatIsNotARegularFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no FIFOs")
	}
	dir := t.TempDir()
	fifo := filepath.Join(dir, "key4.db")
	require.NoError(t, mkfifo(fifo))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, p := range []string{fifo, dir, "/dev/null"} {
		done := make(chan error, 1)
		go func() {
			_, err := FS{}.ReadFile(ctx, p, 1<<20)
			done <- err
		}()
		select {
		case err := <-done:
			assert.ErrorIs(t, err, ErrNotRegular, p)
		case <-time.After(3 * time.Second):
			t.Fatalf("opening %s blocked", p)
		}
	}
	// Through a symlink too.
	link := filepath.Join(dir, "cert9.db")
	require.NoError(t, os.Symlink(fifo, link))
	_, err := FS{}.ReadHead(ctx, link, 16)
	assert.ErrorIs(t, err, ErrNotRegular)
}

// TestPseudoFileSystemsAreNeverRead: procfs "regular" files (such as
// /proc/kmsg, whose reading consumes kernel messages) are refused by file
// system type, and procfs is never listed, whatever the path is called.
func TestPseudoFileSystemsAreNeverRead(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("procfs is Linux's")
	}
	ctx := context.Background()
	_, err := FS{}.ReadFile(ctx, "/proc/self/status", 1<<20)
	assert.ErrorIs(t, err, ErrPseudoFS)
	_, err = FS{}.ReadDir(ctx, "/proc")
	assert.ErrorIs(t, err, ErrPseudoFS)
	_, err = FS{}.ReadDir(ctx, "/sys/kernel")
	assert.ErrorIs(t, err, ErrPseudoFS)
	// A link with an innocent name changes nothing.
	link := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.Symlink("/proc/self/status", link))
	_, err = FS{}.ReadFile(ctx, link, 1<<20)
	assert.ErrorIs(t, err, ErrPseudoFS)
	// A glob over / finds /proc but never lists it.
	m, err := FS{}.Glob(ctx, "/proc/*/status")
	require.NoError(t, err)
	assert.Empty(t, m)
}

// TestRootResolvesLikeAChroot: under a root, an absolute symlink and ".."
// stay inside it; the host's file of the same name is never read.
func TestRootResolvesLikeAChroot(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges")
	}
	host := t.TempDir()
	root := filepath.Join(host, "image")
	write(t, filepath.Join(host, "secret", "cert9.db"), "HOST")
	write(t, filepath.Join(root, host, "secret", "cert9.db"), "IMAGE")
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc", "pki"), 0o755))
	// ROOT/etc/pki/nssdb -> /<host>/secret (absolute: means ROOT/<host>/secret)
	require.NoError(t, os.Symlink(filepath.Join(host, "secret"), filepath.Join(root, "etc", "pki", "nssdb")))
	// ROOT/etc/up -> ../../../../.. (climbs past the root: stops at it)
	require.NoError(t, os.Symlink("../../../../../../../../..", filepath.Join(root, "etc", "up")))

	ctx := context.Background()
	fsys := In(root)
	data, err := fsys.ReadFile(ctx, filepath.Join(root, "etc", "pki", "nssdb", "cert9.db"), 100)
	if runtime.GOOS == "linux" {
		require.NoError(t, err)
		assert.Equal(t, "IMAGE", string(data), "the absolute link resolves inside the root")
	} else {
		assert.Error(t, err, "os.Root refuses an absolute link")
	}
	data, err = fsys.ReadFile(ctx, filepath.Join(root, "etc", "up", host, "secret", "cert9.db"), 100)
	if err == nil {
		assert.Equal(t, "IMAGE", string(data), "'..' stops at the root")
	}
	ents, err := fsys.ReadDir(ctx, filepath.Join(root, "etc", "pki", "nssdb"))
	if runtime.GOOS == "linux" {
		require.NoError(t, err)
		require.Len(t, ents, 1)
	}
	fi, err := fsys.Stat(filepath.Join(root, "etc", "pki", "nssdb", "cert9.db"))
	if err == nil {
		assert.Equal(t, int64(len("IMAGE")), fi.Size())
	}
	// The host FS follows the link as the host sees it.
	data, err = FS{}.ReadFile(ctx, filepath.Join(root, "etc", "pki", "nssdb", "cert9.db"), 100)
	require.NoError(t, err)
	assert.Equal(t, "HOST", string(data))
}

// TestGlobNeverFollowsMatchedSymlinks: a wildcard match that is a symlink
// (/proc/*/cwd, a home linked elsewhere) is dropped; literal parts are
// followed as named.
func TestGlobNeverFollowsMatchedSymlinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges")
	}
	dir := t.TempDir()
	elsewhere := t.TempDir()
	write(t, filepath.Join(dir, "home", "alice", ".pki", "nssdb", "cert9.db"), "a")
	write(t, filepath.Join(elsewhere, ".pki", "nssdb", "cert9.db"), "b")
	require.NoError(t, os.Symlink(elsewhere, filepath.Join(dir, "home", "mallory")))
	write(t, filepath.Join(elsewhere, "x.pem"), "x")
	require.NoError(t, os.Symlink(filepath.Join(elsewhere, "x.pem"), filepath.Join(dir, "home", "link.pem")))
	require.NoError(t, os.Symlink(elsewhere, filepath.Join(dir, "linked")))

	ctx := context.Background()
	m, err := FS{}.Glob(ctx, filepath.Join(dir, "home", "*", ".pki", "nssdb"))
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "home", "alice", ".pki", "nssdb")}, m)
	m, err = FS{}.Glob(ctx, filepath.Join(dir, "home", "*.pem"))
	require.NoError(t, err)
	assert.Empty(t, m)
	m, err = FS{}.Glob(ctx, filepath.Join(dir, "linked", "*.pem"))
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "linked", "x.pem")}, m, "a literal part is followed")
	_, err = FS{}.Glob(ctx, "[")
	assert.Error(t, err)
}

// TestReadsObeyTheContext: a read after the deadline fails.
func TestReadsObeyTheContext(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	write(t, p, "data")
	ctx, cancel := context.WithCancel(context.Background())
	f, err := FS{}.Open(ctx, p)
	require.NoError(t, err)
	defer f.Close()
	cancel()
	_, err = f.Read(make([]byte, 4))
	assert.True(t, errors.Is(err, context.Canceled))
	_, err = FS{}.ReadFile(ctx, p, 10)
	assert.ErrorIs(t, err, context.Canceled)
	_, err = FS{}.ReadFile(context.Background(), p, 2)
	assert.ErrorIs(t, err, ErrTooLarge)
}

// TestOpenNeverStopsADelete: a file fsafe holds open can still be deleted
// by its owner. On Windows a plain open (no
// FILE_SHARE_DELETE) makes the owner's DeleteFile fail with a sharing
// violation: a reader copying SQLite's -journal would break the writer's
// commit.
func TestOpenNeverStopsADelete(t *testing.T) {
	dir := t.TempDir()
	for _, fsys := range []FS{{}, In(dir)} {
		t.Run("root="+fsys.Root, func(t *testing.T) {
			p := filepath.Join(dir, "cert9.db-journal")
			write(t, p, "journal")
			f, err := fsys.Open(context.Background(), p)
			require.NoError(t, err)
			defer f.Close()
			require.NoError(t, os.Remove(p), "delete while fsafe holds the file")
			buf := make([]byte, 7)
			_, err = f.ReadAt(buf, 0)
			require.NoError(t, err)
			assert.Equal(t, "journal", string(buf), "the open file still reads")
		})
	}
}
