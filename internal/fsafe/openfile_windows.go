package fsafe

import (
	"io/fs"
	"os"

	"golang.org/x/sys/windows"
)

// openFile opens path for reading, sharing it for reading, writing and
// deleting. os.Open leaves out FILE_SHARE_DELETE, so while it holds a file
// its owner cannot delete it: SQLite's DeleteFile of its -journal at commit
// would fail with a sharing violation because a reader was copying it.
// (os.Root's opens already share delete.)
func openFile(path string) (*os.File, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}
