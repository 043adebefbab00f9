//go:build !darwin && !windows

package extension_test

import "syscall"

// ru_maxrss is in kilobytes on Linux and the BSDs.
func maxrssMB(ru *syscall.Rusage) float64 { return float64(ru.Maxrss) / 1024 }
