package fsafe

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// pseudoFS are the kernel file systems whose files are interfaces, not data:
// reading them can consume (/proc/kmsg), block or have side effects.
var pseudoFS = map[int64]string{
	unix.PROC_SUPER_MAGIC:     "procfs",
	unix.SYSFS_MAGIC:          "sysfs",
	unix.DEVPTS_SUPER_MAGIC:   "devpts",
	unix.DEBUGFS_MAGIC:        "debugfs",
	unix.TRACEFS_MAGIC:        "tracefs",
	unix.SECURITYFS_MAGIC:     "securityfs",
	unix.CGROUP_SUPER_MAGIC:   "cgroup",
	unix.CGROUP2_SUPER_MAGIC:  "cgroup2",
	unix.BPF_FS_MAGIC:         "bpf",
	unix.PSTOREFS_MAGIC:       "pstore",
	unix.EFIVARFS_MAGIC:       "efivarfs",
	unix.SELINUX_MAGIC:        "selinuxfs",
	unix.BINFMTFS_MAGIC:       "binfmt_misc",
	unix.HUGETLBFS_MAGIC:      "hugetlbfs",
	unix.NSFS_MAGIC:           "nsfs",
	unix.PIPEFS_MAGIC:         "pipefs",
	unix.SOCKFS_MAGIC:         "sockfs",
	unix.ANON_INODE_FS_MAGIC:  "anon_inodefs",
	unix.AUTOFS_SUPER_MAGIC:   "autofs",
	unix.OPENPROM_SUPER_MAGIC: "openpromfs",
	unix.SMACK_MAGIC:          "smackfs",
	unix.DEVMEM_MAGIC:         "devmem",
	unix.SECRETMEM_MAGIC:      "secretmem",
	0x62656570:                "configfs",
	0x19800202:                "mqueue",
	0x65735543:                "fusectl",
	unix.BDEVFS_MAGIC:         "bdev",
}

// checkFS refuses a descriptor on a pseudo file system.
func checkFS(fd int) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return fmt.Errorf("statfs: %w", err)
	}
	if name, ok := pseudoFS[int64(st.Type)]; ok {
		return fmt.Errorf("%w (%s)", ErrPseudoFS, name)
	}
	return nil
}

// resolve opens path as an O_PATH handle (no side effects, whatever it
// is): inside the root as a chroot would when path is under it.
func (f FS) resolve(path string, extra uint64, follow bool) (int, error) {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC | extra, Resolve: unix.RESOLVE_NO_MAGICLINKS}
	if !follow {
		how.Flags |= unix.O_NOFOLLOW
	}
	dirfd, name := unix.AT_FDCWD, path
	if rel, ok := f.rel(path); ok {
		rfd, err := unix.Open(f.Root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: f.Root, Err: err}
		}
		defer unix.Close(rfd)
		dirfd, name = rfd, rel
		how.Resolve |= unix.RESOLVE_IN_ROOT
	}
	for {
		fd, err := unix.Openat2(dirfd, name, &how)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err == unix.ENOSYS || err == unix.EPERM && how.Resolve&unix.RESOLVE_IN_ROOT == 0 {
			// No openat2 (Linux < 5.6, or a seccomp filter): plain openat,
			// which has no in-root resolution.
			if how.Resolve&unix.RESOLVE_IN_ROOT != 0 {
				return -1, &fs.PathError{Op: "open", Path: path, Err: errors.New("this kernel cannot resolve paths inside a root (openat2)")}
			}
			fd, err = unix.Openat(dirfd, name, int(how.Flags), 0)
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return fd, nil
	}
}

func (f FS) open(path string) (*os.File, error) {
	pfd, err := f.resolve(path, 0, true)
	if err != nil {
		return nil, err
	}
	defer unix.Close(pfd)
	var pst unix.Stat_t
	if err := unix.Fstat(pfd, &pst); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if pst.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &fs.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	if err := checkFS(pfd); err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	// Reopen the very inode checked above for reading.
	flags := unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(pfd), flags, 0)
	if err != nil {
		// No /proc: resolve again, then make sure it is the same file.
		fd, err = f.resolve(path, 0, true)
		if err == nil {
			unix.Close(fd)
			how := unix.OpenHow{Flags: uint64(flags)}
			fd, err = reopenChecked(f, path, how)
		}
		if err != nil {
			return nil, err
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Dev != pst.Dev || st.Ino != pst.Ino || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "open", Path: path, Err: errors.New("file changed while it was opened")}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// reopenChecked opens path for reading without O_PATH (no /proc to reopen
// through); O_NONBLOCK keeps a FIFO swapped in meanwhile from blocking,
// and the caller compares device and inode.
func reopenChecked(f FS, path string, how unix.OpenHow) (int, error) {
	how.Resolve = unix.RESOLVE_NO_MAGICLINKS
	dirfd, name := unix.AT_FDCWD, path
	if rel, ok := f.rel(path); ok {
		rfd, err := unix.Open(f.Root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		defer unix.Close(rfd)
		dirfd, name = rfd, rel
		how.Resolve |= unix.RESOLVE_IN_ROOT
	}
	fd, err := unix.Openat2(dirfd, name, &how)
	if err == unix.ENOSYS && how.Resolve&unix.RESOLVE_IN_ROOT == 0 {
		fd, err = unix.Openat(dirfd, name, int(how.Flags), 0)
	}
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}

func (f FS) openDir(dir string) (*os.File, error) {
	pfd, err := f.resolve(dir, unix.O_DIRECTORY, true)
	if err != nil {
		return nil, err
	}
	defer unix.Close(pfd)
	if err := checkFS(pfd); err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(pfd), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		fd, err = reopenChecked(f, dir, unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC})
		if err != nil {
			return nil, err
		}
		if err := checkFS(fd); err != nil {
			unix.Close(fd)
			return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
		}
	}
	return os.NewFile(uintptr(fd), dir), nil
}

func (f FS) stat(path string, follow bool) (fs.FileInfo, error) {
	if _, ok := f.rel(path); !ok {
		if follow {
			return os.Stat(path)
		}
		return os.Lstat(path)
	}
	pfd, err := f.resolve(path, 0, follow)
	if err != nil {
		return nil, err
	}
	h := os.NewFile(uintptr(pfd), path)
	defer h.Close()
	return h.Stat()
}
