//go:build unix && !linux

package fsafe

import "syscall"

const oNonblock = syscall.O_NONBLOCK
