//go:build !linux && !windows

package edge_test

import (
	"fmt"
	"runtime"
	"time"
)

// processCPU: another process's CPU time is read on Linux and Windows only.
func processCPU(int) (time.Duration, error) {
	return 0, fmt.Errorf("no reading of another process's CPU time on %s", runtime.GOOS)
}
