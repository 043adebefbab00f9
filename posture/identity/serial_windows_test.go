package identity

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSystemSerialRSMB reads the serial through GetSystemFirmwareTable('RSMB').
// make test-windows runs it under Wine, which builds that table from
// /sys/class/dmi/id, over a fake DMI tree, and sets CERTSIGHT_TEST_SERIAL to
// the serial the tree holds; with CERTSIGHT_TEST_SERIAL_REFUSED=1 the tree
// holds a placeholder that must be refused. Without either (a Windows
// machine), the machine's own serial or a clear ErrNoSerial.
func TestSystemSerialRSMB(t *testing.T) {
	got, err := System().SerialNumber(context.Background())
	switch want := os.Getenv("CERTSIGHT_TEST_SERIAL"); {
	case os.Getenv("CERTSIGHT_TEST_SERIAL_REFUSED") == "1":
		require.ErrorIs(t, err, ErrNoSerial)
		assert.ErrorContains(t, err, "placeholder")
		assert.Empty(t, got)
	case want != "":
		require.NoError(t, err)
		assert.Equal(t, want, got)
	case err != nil:
		require.ErrorIs(t, err, ErrNoSerial)
		t.Logf("no serial on this machine: %v", err)
	default:
		_, cerr := CleanSerial(got)
		require.NoError(t, cerr)
		t.Logf("serial %q", got)
	}
}
