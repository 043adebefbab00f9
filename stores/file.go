package stores

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ReadRegularFile reads a whole file through a read-only handle, refusing
// anything that is not a regular file or is larger than limit bytes — also
// when the file grows while it is read. Readers use it to work on a private
// copy of a store file instead of holding it open.
func ReadRegularFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("file of %d bytes exceeds the %d-byte limit", fi.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("file exceeds the %d-byte limit", limit)
	}
	return data, nil
}
