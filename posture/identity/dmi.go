package identity

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// linuxSerial (portable so it is tested everywhere) tries the kernel's decoded attribute, then the raw table.
func linuxSerial(ctx context.Context, attrPath, tablePath string) (string, error) {
	var errs []error
	if b, err := os.ReadFile(attrPath); err == nil {
		s, err := CleanSerial(string(b))
		if err == nil {
			return s, nil
		}
		// The raw table holds the same field; reading it cannot do better.
		return "", fmt.Errorf("%s: %w", attrPath, err)
	} else {
		errs = append(errs, describeReadErr(attrPath, err))
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoSerial, err)
	}
	b, err := os.ReadFile(tablePath)
	if err != nil {
		errs = append(errs, describeReadErr(tablePath, err))
		return "", fmt.Errorf("%w: %w; %w", ErrNoSerial, errs[0], errs[1])
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
		return fmt.Errorf("%s does not exist (no DMI on this machine, VM or container)", path)
	}
	return fmt.Errorf("reading %s: %w", path, err)
}
