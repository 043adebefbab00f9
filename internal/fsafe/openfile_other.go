//go:build !linux && !windows

package fsafe

import "os"

// openFile opens path for reading without blocking.
func openFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|oNonblock, 0)
}
