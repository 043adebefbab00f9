// Package filestamp tells whether a file changed since it was read, for
// the edge's pollers (CRL files, reloaded configuration). Polling, not
// file-system notifications: those miss files replaced through a renamed
// directory or symlink (Kubernetes secret volumes) and differ on every OS.
package filestamp

import (
	"fmt"
	"os"
)

// Stamp identifies one version of a file: which file it is (device and
// inode where the OS has them, so a file renamed over the old one counts as
// new even with the same size and modification time), its size and its
// modification time. The zero Stamp matches nothing.
type Stamp struct {
	fi os.FileInfo
}

// Of stats path (following symlinks, as reading it would).
func Of(path string) (Stamp, error) {
	var fi os.FileInfo
	for range 3 {
		var err error
		if fi, err = os.Stat(path); err != nil {
			return Stamp{}, err
		}
		if !fi.Mode().IsRegular() {
			return Stamp{}, fmt.Errorf("%s is not a regular file", path)
		}
		// On Windows os.Stat leaves out the file's identity and os.SameFile
		// reads it by path when first asked: by then the path may name the
		// file renamed over this one, and the two would compare as the same
		// file. Comparing the stamp with itself reads it now; a second stat
		// then checks that the identity read belongs to the size and time
		// (a file replaced in between would be stamped half old, half new,
		// and seen to change again at the next poll).
		os.SameFile(fi, fi)
		again, err := os.Stat(path)
		if err == nil && again.Size() == fi.Size() && again.ModTime().Equal(fi.ModTime()) {
			break
		}
	}
	return Stamp{fi: fi}, nil
}

// Same reports whether s and o are the same version of the same file.
// Take the stamp before reading a file: a change during the read then
// shows at the next comparison instead of being missed.
func (s Stamp) Same(o Stamp) bool {
	if s.fi == nil || o.fi == nil {
		return false
	}
	return s.fi.Size() == o.fi.Size() && s.fi.ModTime().Equal(o.fi.ModTime()) && os.SameFile(s.fi, o.fi)
}
