//go:build !linux

package fsafe

import (
	"errors"
	"io/fs"
	"os"
)

// open opens path for reading. Off Linux there is no O_PATH: the path is
// stat'ed first so that a FIFO or device is never opened, the open does not
// block (O_NONBLOCK where the OS has it), and the caller's fstat on the
// descriptor settles what was opened. Under a root, os.Root refuses what
// would escape it.
func (f FS) open(path string) (*os.File, error) {
	fi, err := f.stat(path, true)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	if rel, ok := f.rel(path); ok {
		r, err := os.OpenRoot(f.Root)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return r.OpenFile(rel, os.O_RDONLY|oNonblock, 0)
	}
	return openFile(path)
}

func (f FS) openDir(dir string) (*os.File, error) {
	var h *os.File
	var err error
	if rel, ok := f.rel(dir); ok {
		r, rerr := os.OpenRoot(f.Root)
		if rerr != nil {
			return nil, rerr
		}
		defer r.Close()
		h, err = r.Open(rel)
	} else {
		h, err = os.Open(dir)
	}
	if err != nil {
		return nil, err
	}
	if fi, err := h.Stat(); err != nil || !fi.IsDir() {
		h.Close()
		return nil, &fs.PathError{Op: "open", Path: dir, Err: errors.New("not a directory")}
	}
	return h, nil
}

func (f FS) stat(path string, follow bool) (fs.FileInfo, error) {
	if rel, ok := f.rel(path); ok {
		r, err := os.OpenRoot(f.Root)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		if follow {
			return r.Stat(rel)
		}
		return r.Lstat(rel)
	}
	if follow {
		return os.Stat(path)
	}
	return os.Lstat(path)
}
