package stores

import (
	"path"
	"path/filepath"
)

// Rooted returns p, a path of the machine whose stores are read, as seen
// from this machine when that machine's file system is mounted at root (a
// disk image, a container's root file system): root joined with p, without
// p's volume name (C:); ".." in p never climbs above root. An empty root
// returns p unchanged.
//
// Only the lexical path is rooted: an absolute symbolic link inside root
// still resolves against this machine's file system.
func Rooted(root, p string) string {
	if root == "" {
		return p
	}
	// p is cleaned as a slash path below "/" before it meets root: on
	// Windows filepath.Clean takes a leading `\/` or `//` for a UNC prefix
	// and keeps the ".." after it, which would climb out of root.
	rest := filepath.ToSlash(p[len(filepath.VolumeName(p)):])
	return filepath.Join(root, filepath.FromSlash(path.Clean("/"+rest)))
}
