package identity

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// linuxSerial tries the kernel's decoded attribute, then the raw SMBIOS
// table. It is portable so that it is tested on every OS.
func linuxSerial(ctx context.Context, attrPath, tablePath string) (string, error) {
	b, attrErr := os.ReadFile(attrPath)
	if attrErr == nil {
		s, err := CleanSerial(string(b))
		if err != nil {
			// The raw table holds the same field; reading it cannot do better.
			return "", fmt.Errorf("%s: %w", attrPath, err)
		}
		return s, nil
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoSerial, err)
	}
	b, tableErr := os.ReadFile(tablePath)
	if tableErr != nil {
		if errors.Is(attrErr, os.ErrNotExist) && errors.Is(tableErr, os.ErrNotExist) {
			return "", fmt.Errorf("%w: neither %s nor %s exists (no DMI on this machine; a VM or container?)",
				ErrNoSerial, attrPath, tablePath)
		}
		return "", fmt.Errorf("%w: %w; %w", ErrNoSerial, describeReadErr(attrPath, attrErr), describeReadErr(tablePath, tableErr))
	}
	s, err := ParseSMBIOS(b)
	if err != nil {
		return "", fmt.Errorf("%s: %w", tablePath, err)
	}
	return s, nil
}

func describeReadErr(path string, err error) error {
	switch {
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%s is readable by root only (run osqueryd as root): %w", path, err)
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s does not exist", path)
	}
	return fmt.Errorf("reading %s: %w", path, err)
}
