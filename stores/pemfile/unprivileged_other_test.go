//go:build !linux

package pemfile

import "testing"

// asUnprivileged runs fn: only Linux has a per-thread fsuid to drop root's
// file access with, so elsewhere a root run keeps the skip below.
func asUnprivileged(t *testing.T, dir string, fn func()) { fn() }
