//go:build unix

package main

import (
	"syscall"
	"time"
)

// selfCPU is this process's user + system time in seconds, or 0 if it
// cannot be read.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
