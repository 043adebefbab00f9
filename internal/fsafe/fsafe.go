// Package fsafe is the one way certsight opens, lists and globs the files it
// reads. certsight runs as root and reads files that any local user can
// write or replace, so every store file goes through here:
//
//   - a file is opened without blocking (O_NONBLOCK; on Linux first as an
//     O_PATH handle that cannot have side effects), checked to be a regular
//     file with fstat on the open descriptor, and refused when it lives on a
//     kernel pseudo file system (procfs, sysfs, debugfs, ...: their "regular"
//     files, such as /proc/kmsg, consume or block);
//   - every read checks the caller's context, so a deadline ends it;
//   - sizes are capped before anything is read (ReadFile);
//   - directory listings and globs never enter pseudo file systems, and a
//     glob never follows a symlink that one of its wildcards matched;
//   - under a root (a mounted image, a container's file system), paths are
//     resolved as a chroot would: absolute symlink targets and ".." stay
//     inside the root (Linux openat2 RESOLVE_IN_ROOT; elsewhere os.Root,
//     which refuses what would escape).
//
// An FS is a value; the zero FS reads the host.
package fsafe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Errors that callers may test for.
var (
	ErrNotRegular = errors.New("not a regular file")
	ErrPseudoFS   = errors.New("on a kernel pseudo file system (procfs, sysfs, ...): not read")
	ErrTooLarge   = errors.New("file exceeds the size limit")
)

// FS opens files, confined to Root when it is set.
type FS struct {
	// Root, when not empty, is where a foreign file system is mounted:
	// paths under it are resolved inside it as a chroot would. Paths
	// outside it are read from the host as named.
	Root string
}

// In returns the FS confined to root ("" is the host).
func In(root string) FS { return FS{Root: root} }

// rel returns the part of path under the root, and whether path is under it.
func (f FS) rel(path string) (string, bool) {
	if f.Root == "" {
		return "", false
	}
	root := filepath.Clean(f.Root)
	p := filepath.Clean(path)
	if p == root {
		return ".", true
	}
	prefix := root
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	if !strings.HasPrefix(p, prefix) {
		return "", false
	}
	return p[len(prefix):], true
}

// File is an open regular file whose reads check a context.
type File struct {
	f    *os.File
	ctx  context.Context
	info fs.FileInfo
	name string
}

// Open opens path for reading: a regular file, not on a pseudo file system,
// opened without blocking. ctx ends every later read on it.
func (f FS) Open(ctx context.Context, path string) (*File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h, err := f.open(path)
	if err != nil {
		return nil, err
	}
	fi, err := h.Stat()
	if err != nil {
		h.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		h.Close()
		return nil, ErrNotRegular
	}
	return &File{f: h, ctx: ctx, info: fi, name: path}, nil
}

// Read reads like os.File.Read once ctx is still live.
func (h *File) Read(p []byte) (int, error) {
	if err := h.ctx.Err(); err != nil {
		return 0, err
	}
	return h.f.Read(p)
}

// ReadAt reads like os.File.ReadAt once ctx is still live.
func (h *File) ReadAt(p []byte, off int64) (int, error) {
	if err := h.ctx.Err(); err != nil {
		return 0, err
	}
	return h.f.ReadAt(p, off)
}

// Seek seeks like os.File.Seek.
func (h *File) Seek(off int64, whence int) (int64, error) { return h.f.Seek(off, whence) }

// Stat returns what fstat said when the file was opened.
func (h *File) Stat() (fs.FileInfo, error) { return h.info, nil }

// Size is the file's size when it was opened.
func (h *File) Size() int64 { return h.info.Size() }

// Name is the path the file was opened by.
func (h *File) Name() string { return h.name }

// Close closes the file.
func (h *File) Close() error { return h.f.Close() }

// ReadFile reads a whole regular file of at most limit bytes.
func (f FS) ReadFile(ctx context.Context, path string, limit int64) ([]byte, error) {
	h, err := f.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	if h.Size() > limit {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, h.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(h, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: grew past %d bytes while read", ErrTooLarge, limit)
	}
	return data, nil
}

// ReadHead reads up to n bytes from the start of a regular file.
func (f FS) ReadHead(ctx context.Context, path string, n int64) ([]byte, error) {
	h, err := f.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	data, err := io.ReadAll(io.LimitReader(h, n))
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	return data, nil
}

// Stat stats path, following symlinks (inside the root, under one).
func (f FS) Stat(path string) (fs.FileInfo, error) { return f.stat(path, true) }

// Lstat stats path without following a final symlink.
func (f FS) Lstat(path string) (fs.FileInfo, error) { return f.stat(path, false) }

// IsRegular reports whether path is (or links to) a regular file.
func (f FS) IsRegular(path string) bool {
	fi, err := f.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// IsDir reports whether path is (or links to) a directory.
func (f FS) IsDir(path string) bool {
	fi, err := f.Stat(path)
	return err == nil && fi.IsDir()
}

// ReadDir lists a directory sorted by name, refusing one on a pseudo file
// system. Entry types are those of the entries themselves (a symlink is a
// symlink). Like os.ReadDir it returns what it read before an error.
func (f FS) ReadDir(ctx context.Context, dir string) ([]fs.DirEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d, err := f.openDir(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	ents, err := d.ReadDir(-1)
	sortEntries(ents)
	return ents, err
}

// HasMeta reports whether path holds glob metacharacters.
func HasMeta(path string) bool { return strings.ContainsAny(path, "*?[") }

// Glob returns the paths matching pattern (filepath.Match syntax), sorted.
// Literal parts of the pattern are followed as named, symlinks included;
// an entry that a wildcard matched is kept only when it is not a symlink,
// so a glob never wanders through links (/proc/*/cwd, a home linked out
// of the root). Pseudo file systems are never listed. A pattern that
// matches nothing returns nil and no error.
func (f FS) Glob(ctx context.Context, pattern string) ([]string, error) {
	if _, err := filepath.Match(pattern, ""); err != nil {
		return nil, err
	}
	vol := filepath.VolumeName(pattern)
	rest := pattern[len(vol):]
	base := vol
	if len(rest) > 0 && os.IsPathSeparator(rest[0]) {
		base += string(filepath.Separator)
		rest = strings.TrimLeftFunc(rest, func(r rune) bool { return r < 0x80 && os.IsPathSeparator(uint8(r)) })
	}
	parts := strings.Split(filepath.ToSlash(rest), "/")
	cur := []string{base}
	for i, part := range parts {
		if part == "" {
			continue
		}
		last := i == len(parts)-1
		var next []string
		for _, dir := range cur {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if !HasMeta(part) {
				p := join(dir, unescape(part))
				if _, err := f.Lstat(p); err == nil {
					next = append(next, p)
				}
				continue
			}
			ents, err := f.ReadDir(ctx, dirOrDot(dir))
			if err != nil {
				continue // unreadable, missing or pseudo: nothing matches there
			}
			for _, e := range ents {
				ok, _ := filepath.Match(part, e.Name())
				if !ok {
					continue
				}
				if e.Type()&fs.ModeSymlink != 0 {
					continue // never follow a link a wildcard matched
				}
				if !last && !e.IsDir() {
					continue
				}
				next = append(next, join(dir, e.Name()))
			}
		}
		cur = next
		if len(cur) == 0 {
			return nil, nil
		}
	}
	if len(cur) == 1 && cur[0] == base {
		return nil, nil
	}
	return cur, nil
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return filepath.Join(dir, name)
}

func dirOrDot(dir string) string {
	if dir == "" {
		return "."
	}
	return dir
}

// unescape removes the backslash escapes of a literal glob part (not on
// Windows, where backslash is the separator).
func unescape(part string) string {
	if filepath.Separator == '\\' || !strings.Contains(part, `\`) {
		return part
	}
	var b strings.Builder
	for i := 0; i < len(part); i++ {
		if part[i] == '\\' && i+1 < len(part) {
			i++
		}
		b.WriteByte(part[i])
	}
	return b.String()
}
