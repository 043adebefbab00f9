package identity

import (
	"context"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

// golang.org/x/sys/windows has no wrapper for GetSystemFirmwareTable, so it
// is called through kernel32 directly.
var procGetSystemFirmwareTable = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetSystemFirmwareTable")

// rsmb is the 'RSMB' provider signature as the API expects it (big-endian
// character order in a DWORD).
const rsmb = uint32('R')<<24 | uint32('S')<<16 | uint32('M')<<8 | uint32('B')

func platformSerial(ctx context.Context) (string, error) {
	if err := procGetSystemFirmwareTable.Find(); err != nil {
		return "", fmt.Errorf("%w: GetSystemFirmwareTable: %w", ErrNoSerial, err)
	}
	// The first call returns the size needed.
	n, _, callErr := procGetSystemFirmwareTable.Call(uintptr(rsmb), 0, 0, 0)
	if n == 0 {
		return "", fmt.Errorf("%w: GetSystemFirmwareTable('RSMB'): %w", ErrNoSerial, callErr)
	}
	if n > 16<<20 {
		return "", fmt.Errorf("%w: GetSystemFirmwareTable('RSMB') wants %d bytes", ErrNoSerial, n)
	}
	buf := make([]byte, n)
	got, _, callErr := procGetSystemFirmwareTable.Call(uintptr(rsmb), 0, uintptr(unsafe.Pointer(&buf[0])), n)
	if got == 0 || got > n {
		return "", fmt.Errorf("%w: GetSystemFirmwareTable('RSMB'): %w", ErrNoSerial, callErr)
	}
	return ParseRawSMBIOSData(buf[:got])
}
