package identity

import (
	"context"
	"fmt"
	"os/exec"
)

// platformSerial asks ioreg rather than IOKit through cgo, so the binary
// cross-builds without a macOS SDK. ioreg ships with every macOS.
func platformSerial(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "/usr/sbin/ioreg", "-rd1", "-c", "IOPlatformExpertDevice").Output()
	if err != nil {
		return "", fmt.Errorf("%w: running ioreg: %w", ErrNoSerial, err)
	}
	return ParseIORegSerial(out)
}
