package extension_test

import "syscall"

// ru_maxrss is in bytes on macOS.
func maxrssMB(ru *syscall.Rusage) float64 { return float64(ru.Maxrss) / (1 << 20) }
