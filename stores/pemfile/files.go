package pemfile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/certsight/certsight/internal/fsafe"
	"github.com/certsight/certsight/stores"
)

var (
	errTooLarge   = fsafe.ErrTooLarge
	errNotRegular = fsafe.ErrNotRegular
)

// File is one file to read.
type File struct {
	Path string
	// Named is true for a file the caller named itself (not found through a
	// directory or a glob): when it holds no certificate, that is an error.
	Named bool
}

// HasMeta reports whether path holds glob metacharacters.
func HasMeta(path string) bool { return fsafe.HasMeta(path) }

// Files lists the files that path names: the file itself, the regular files
// of a directory (of its subdirectories too with Recursive), or a glob's
// matches. A path that exists is never taken as a glob, so a file whose name
// holds `[` still reads. A glob that matches nothing is not an error: it is a
// question about no files.
func (r *Reader) Files(ctx context.Context, path string) ([]File, []error) {
	l := lister{cfg: r.cfg, fs: fsafe.In(r.cfg.Root), visited: map[string]bool{}}
	l.path(ctx, path)
	return l.files, l.errs
}

type lister struct {
	cfg     stores.ReaderConfig
	fs      fsafe.FS
	visited map[string]bool // real paths of directories already walked
	files   []File
	errs    []error
}

func (l *lister) fail(path, item string, err error) {
	l.errs = append(l.errs, l.cfg.ItemError(path, item, err))
}

func (l *lister) path(ctx context.Context, path string) {
	fi, err := l.fs.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		l.dir(ctx, path)
	case err == nil && fi.Mode().IsRegular():
		l.files = append(l.files, File{Path: path, Named: true})
	case err == nil:
		l.fail(path, "", errNotRegular)
	case HasMeta(path):
		l.glob(ctx, path)
	default:
		l.fail(path, "", err)
	}
}

func (l *lister) glob(ctx context.Context, pattern string) {
	matches, err := l.fs.Glob(ctx, pattern)
	if err != nil {
		l.fail(pattern, "", fmt.Errorf("glob: %w", err))
		return
	}
	if len(matches) == 0 {
		l.cfg.Log.Debug("glob matched nothing", "pattern", pattern)
	}
	for _, m := range matches {
		fi, err := l.fs.Stat(m)
		switch {
		case err != nil:
			l.fail(m, "", err)
		case fi.IsDir():
			l.dir(ctx, m)
		case fi.Mode().IsRegular():
			l.files = append(l.files, File{Path: m})
		}
	}
}

// dir lists a directory's regular files. Entries are followed through
// symlinks with os.Stat; directories are tracked by their real path so a link
// back to an ancestor cannot make the walk loop.
func (l *lister) dir(ctx context.Context, dir string) {
	if ctx.Err() != nil {
		return // ReadFiles reports the context's error
	}
	fi, err := l.fs.Stat(dir)
	if err != nil {
		l.fail(dir, "", err)
		return
	}
	real := fileID(fi)
	if l.visited[real] {
		l.cfg.Log.Debug("directory already read", "path", dir)
		return
	}
	l.visited[real] = true
	entries, err := l.fs.ReadDir(ctx, dir)
	if err != nil {
		l.fail(dir, "", fmt.Errorf("listing: %w", err))
		// ReadDir returns the entries read before the error; keep them.
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		fi, err := l.fs.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// A dangling symlink, common in /etc/ssl/certs after package
			// removals: nothing to read and nothing the user asked for.
			l.cfg.Log.Debug("skipping dangling link", "path", p)
		case err != nil:
			l.fail(p, "", err)
		case fi.IsDir():
			if l.cfg.Recursive {
				l.dir(ctx, p)
			}
		case fi.Mode().IsRegular():
			l.files = append(l.files, File{Path: p})
		}
	}
}

// fileID identifies a file by device and inode where the OS says, else by
// its modification time, size and name (good enough to stop a loop).
func fileID(fi os.FileInfo) string {
	if id, ok := sysID(fi); ok {
		return id
	}
	return fmt.Sprintf("%s\x00%d\x00%d", fi.Name(), fi.Size(), fi.ModTime().UnixNano())
}
