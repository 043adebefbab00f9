package identity

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// structure builds one SMBIOS structure: header, formatted area (after the
// 4-byte header), then the string set.
func structure(typ byte, handle uint16, formatted []byte, strs ...string) []byte {
	b := []byte{typ, byte(4 + len(formatted)), 0, 0}
	binary.LittleEndian.PutUint16(b[2:], handle)
	b = append(b, formatted...)
	if len(strs) == 0 {
		return append(b, 0, 0)
	}
	for _, s := range strs {
		b = append(append(b, s...), 0)
	}
	return append(b, 0)
}

// bios is a type 0 structure with three strings.
func bios() []byte {
	return structure(0, 0, []byte{1, 2, 0, 0xf0, 3, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0}, "American Megatrends", "1.2.3", "01/01/2024")
}

// system is a type 1 structure (SMBIOS 2.4 layout: 0x1b bytes) whose serial
// is string index serialIdx.
func system(serialIdx byte, strs ...string) []byte {
	f := make([]byte, 0x1b-4)
	f[0] = 1 // manufacturer
	f[1] = 2 // product name
	f[2] = 0 // version: none
	f[3] = serialIdx
	return structure(1, 1, f, strs...)
}

func endOfTable() []byte { return structure(127, 0xfeff, nil) }

func table(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func TestParseSMBIOS(t *testing.T) {
	chassis := structure(3, 3, []byte{1, 3, 0, 2, 0}, "Vendor", "CHASSIS-1")
	noStrings := structure(32, 4, []byte{0, 0, 0, 0, 0, 0, 0})
	tests := []struct {
		name    string
		table   []byte
		want    string
		wantErr string
	}{
		{"serial after other structures", table(bios(), noStrings, chassis, system(3, "Lenovo", "ThinkPad", "PF2ABCDE"), endOfTable()), "PF2ABCDE", ""},
		{"serial is string 1", table(system(1, "SN-0001"), endOfTable()), "SN-0001", ""},
		{"first type 1 wins", table(system(3, "a", "b", "FIRST"), system(3, "a", "b", "SECOND")), "FIRST", ""},
		{"surrounding spaces trimmed", table(system(3, "a", "b", "  VMware-56 4d  ")), "VMware-56 4d", ""},
		{"no type 1", table(bios(), chassis, endOfTable()), "", "no system information"},
		{"no type 1 and no end marker", table(bios(), chassis), "", "no system information"},
		{"serial index zero", table(system(0, "Lenovo", "ThinkPad")), "", "no serial number string"},
		{"serial index beyond strings", table(system(5, "Lenovo", "ThinkPad")), "", "does not exist"},
		{"placeholder OEM", table(system(3, "a", "b", "To Be Filled By O.E.M.")), "", "placeholder"},
		{"placeholder default string", table(system(3, "a", "b", "Default string")), "", "placeholder"},
		{"placeholder system serial number", table(system(3, "a", "b", "System Serial Number")), "", "placeholder"},
		{"placeholder zero", table(system(3, "a", "b", "0")), "", "placeholder"},
		{"placeholder zeros", table(system(3, "a", "b", "00000000")), "", "placeholder"},
		{"all spaces", table(system(3, "a", "b", "     ")), "", "empty"},
		{"non-printable", table(system(3, "a", "b", "AB\x01CD")), "", "non-printable"},
		{"truncated formatted area", table(bios(), system(3, "a", "b", "X"))[:len(bios())+10], "", "truncated"},
		{"unterminated strings", table(bios(), system(3, "a", "b", "SERIAL"))[:len(bios())+len(system(3, "a", "b", "SERIAL"))-2], "", "not terminated"},
		{"length below header", []byte{1, 2, 0, 0, 0, 0}, "", "length 2"},
		{"type 1 too short for serial", table(structure(1, 1, []byte{1, 2}, "a", "b")), "", "too short"},
		{"empty table", nil, "", "no system information"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSMBIOS(tc.table)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrNoSerial)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func rawSMBIOSData(tbl []byte, length uint32) []byte {
	h := []byte{0, 3, 4, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(h[4:], length)
	return append(h, tbl...)
}

func TestParseRawSMBIOSData(t *testing.T) {
	tbl := table(bios(), system(3, "Dell Inc.", "Latitude", "7XYZ123"), endOfTable())
	got, err := ParseRawSMBIOSData(rawSMBIOSData(tbl, uint32(len(tbl))))
	require.NoError(t, err)
	assert.Equal(t, "7XYZ123", got)

	// Trailing bytes beyond Length are ignored.
	got, err = ParseRawSMBIOSData(append(rawSMBIOSData(tbl, uint32(len(tbl))), 0xff, 0xff))
	require.NoError(t, err)
	assert.Equal(t, "7XYZ123", got)

	_, err = ParseRawSMBIOSData(rawSMBIOSData(tbl, uint32(len(tbl)+1)))
	assert.ErrorContains(t, err, "claims")
	_, err = ParseRawSMBIOSData([]byte{0, 3, 4})
	assert.ErrorContains(t, err, "shorter than its header")
}

func TestParseIORegSerial(t *testing.T) {
	out := []byte(`+-o J314sAP  <class IOPlatformExpertDevice, id 0x100000219, registered, matched, active, busy 0 (85 ms), retain 35>
    {
      "IOPolledInterface" = "AppleARMWatchdogTimerHibernateHandler is not serializable"
      "IOPlatformUUID" = "3A1B2C3D-1111-2222-3333-444455556666"
      "IOPlatformSerialNumber" = "C02XK0ABJG5J"
      "model" = <"MacBookPro18,3">
    }
`)
	got, err := ParseIORegSerial(out)
	require.NoError(t, err)
	assert.Equal(t, "C02XK0ABJG5J", got)

	_, err = ParseIORegSerial([]byte(`"IOPlatformUUID" = "x"`))
	assert.ErrorIs(t, err, ErrNoSerial)
	_, err = ParseIORegSerial([]byte(`"IOPlatformSerialNumber" = <00>`))
	assert.ErrorContains(t, err, "not a string")
	_, err = ParseIORegSerial([]byte(`"IOPlatformSerialNumber" = ""`))
	assert.ErrorContains(t, err, "empty")
}

func TestLinuxSerialSources(t *testing.T) {
	// Exercised on every OS: linuxSerial is only called on Linux, but its
	// logic is plain file reading.
	dir := t.TempDir()
	attr := filepath.Join(dir, "product_serial")
	tbl := filepath.Join(dir, "DMI")

	_, err := readLinux(t, attr, tbl)
	assert.ErrorIs(t, err, ErrNoSerial)
	assert.ErrorContains(t, err, "neither "+attr+" nor "+tbl+" exists")

	require.NoError(t, os.WriteFile(tbl, table(bios(), system(3, "QEMU", "Standard PC", "QM-42"), endOfTable()), 0o600))
	got, err := readLinux(t, attr, tbl)
	require.NoError(t, err)
	assert.Equal(t, "QM-42", got, "raw table used when the attribute is missing")

	require.NoError(t, os.WriteFile(attr, []byte("PF-ATTR\n"), 0o600))
	got, err = readLinux(t, attr, tbl)
	require.NoError(t, err)
	assert.Equal(t, "PF-ATTR", got, "the decoded attribute comes first")

	require.NoError(t, os.WriteFile(attr, []byte("To Be Filled By O.E.M.\n"), 0o600))
	_, err = readLinux(t, attr, tbl)
	assert.ErrorContains(t, err, "placeholder")

	// Permission denied on both (non-root on a stock kernel) says so.
	if os.Getuid() != 0 && os.PathSeparator == '/' {
		require.NoError(t, os.Chmod(attr, 0))
		require.NoError(t, os.Chmod(tbl, 0))
		_, err = readLinux(t, attr, tbl)
		assert.ErrorContains(t, err, "readable by root only")
		require.NoError(t, os.Chmod(tbl, 0o600))
	}
	require.NoError(t, os.Remove(attr))
	require.NoError(t, os.WriteFile(tbl, []byte{1, 2}, 0o600))
	_, err = readLinux(t, attr, tbl)
	assert.ErrorContains(t, err, tbl+": "+ErrNoSerial.Error())
}

func TestDeviceSerialCachesSuccessOnly(t *testing.T) {
	calls := 0
	answers := []error{ErrNoSerial, nil}
	d := &Device{serial: func(ctx context.Context) (string, error) {
		err := answers[calls]
		calls++
		if err != nil {
			return "", err
		}
		return "SN1", nil
	}}
	_, err := d.SerialNumber(t.Context())
	require.ErrorIs(t, err, ErrNoSerial)
	s, err := d.SerialNumber(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "SN1", s)
	s, err = d.SerialNumber(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "SN1", s)
	assert.Equal(t, 2, calls)
}

func TestFixed(t *testing.T) {
	d := Fixed("host-1", "", nil)
	h, err := d.Hostname()
	require.NoError(t, err)
	assert.Equal(t, "host-1", h)
	_, err = d.SerialNumber(t.Context())
	assert.ErrorIs(t, err, ErrNoSerial)

	// The real host name is whatever os.Hostname says.
	want, err := os.Hostname()
	require.NoError(t, err)
	got, err := System().Hostname()
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func readLinux(t *testing.T, attr, tbl string) (string, error) {
	t.Helper()
	return linuxSerial(t.Context(), attr, tbl)
}
