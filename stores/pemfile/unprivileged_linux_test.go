package pemfile

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// asUnprivileged runs fn with file-system checks made as user nobody when
// the test runs as root (as CI does), so that a mode-000 file is really
// unreadable. Linux checks files against the thread's fsuid, and changing
// it from 0 drops the thread's file capabilities, so fn runs on this locked
// thread only. dir and its parent are opened up for nobody first.
func asUnprivileged(t *testing.T, dir string, fn func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		fn()
		return
	}
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	require.NoError(t, os.Chmod(dir, 0o755))
	runtime.LockOSThread()
	// The thread is not unlocked: a goroutine that exits while locked takes
	// its (changed) thread with it instead of returning it to the pool.
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		unix.Setfsuid(65534)
		unix.Setfsgid(65534)
		fn()
	}()
	<-done
	runtime.UnlockOSThread()
}
