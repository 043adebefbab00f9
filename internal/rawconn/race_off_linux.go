//go:build !race

package rawconn

// Without the race detector there is nothing to tell it.
const raceEnabled = false

func raceAfterRead(uintptr, []byte)   {}
func raceBeforeWrite(uintptr, []byte) {}
