//go:build !linux && !darwin && !windows

package identity

import (
	"context"
	"fmt"
	"runtime"
)

func platformSerial(context.Context) (string, error) {
	return "", fmt.Errorf("%w: not supported on %s", ErrNoSerial, runtime.GOOS)
}
