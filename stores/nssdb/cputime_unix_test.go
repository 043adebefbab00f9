//go:build unix

package nssdb

import (
	"syscall"
	"time"
)

// processCPU returns the user + system CPU time of this process so far:
// on a machine shared with other jobs it is steadier than wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
