//go:build race

package rawconn

import (
	"runtime"
	"syscall"
	"unsafe"
)

const raceEnabled = true

// raceAfterRead tells the race detector what syscall.Read tells it, which
// net's reads go through: the buffer was written, and everything written to
// any socket before happens before. A zero-length read(2) through
// syscall.Read makes the acquire on the very variable syscall.Write
// releases, so a plain net.Conn at the other end pairs with this one.
func raceAfterRead(fd uintptr, p []byte) {
	runtime.RaceWriteRange(unsafe.Pointer(&p[0]), len(p))
	syscall.Read(int(fd), nil)
}

// raceBeforeWrite is syscall.Write's annotation: the release (through a
// zero-length write(2)) and the read of the buffer.
func raceBeforeWrite(fd uintptr, p []byte) {
	syscall.Write(int(fd), nil)
	runtime.RaceReadRange(unsafe.Pointer(&p[0]), len(p))
}
