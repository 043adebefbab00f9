package stores

import "path/filepath"

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
	rest := p[len(filepath.VolumeName(p)):]
	return filepath.Join(root, filepath.Clean(string(filepath.Separator)+rest))
}
