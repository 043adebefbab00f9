package identity

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// ParseIORegSerial reads IOPlatformSerialNumber from the output of
// `ioreg -rd1 -c IOPlatformExpertDevice`, a line such as
//
//	"IOPlatformSerialNumber" = "C02XK0ABJG5J"
func ParseIORegSerial(out []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		key, value, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(key) != `"IOPlatformSerialNumber"` {
			continue
		}
		value = strings.TrimSpace(value)
		if len(value) < 2 || value[0] != '"' || value[len(value)-1] != '"' {
			return "", fmt.Errorf("%w: IOPlatformSerialNumber is not a string: %q", ErrNoSerial, value)
		}
		return CleanSerial(value[1 : len(value)-1])
	}
	return "", fmt.Errorf("%w: ioreg shows no IOPlatformSerialNumber", ErrNoSerial)
}
