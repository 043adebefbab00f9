package edge_test

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/windows"

	"github.com/certsight/certsight/internal/testtool"
)

// processCPU returns the user+system CPU time process pid used so far.
func processCPU(pid int) (time.Duration, error) {
	if testtool.UnderWine() {
		// Measured: Wine 8.0's GetProcessTimes gives a constant for any
		// process but the caller.
		return 0, errors.New("Wine 8.0 reports no CPU time for another process (GetProcessTimes)")
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return 0, fmt.Errorf("opening process %d: %w", pid, err)
	}
	defer windows.CloseHandle(h)
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &created, &exited, &kernel, &user); err != nil {
		return 0, fmt.Errorf("GetProcessTimes of %d: %w", pid, err)
	}
	ticks := func(f windows.Filetime) int64 { return int64(f.HighDateTime)<<32 | int64(f.LowDateTime) }
	return time.Duration(ticks(kernel)+ticks(user)) * 100, nil // 100 ns units
}
