package identity

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// SMBIOS structure types read here.
const (
	smbiosTypeSystem = 1
	smbiosTypeEnd    = 127
	// serialOffset is the Serial Number string index inside the formatted
	// area of a type 1 structure (SMBIOS 2.0+).
	serialOffset = 0x07
)

// ParseSMBIOS returns the system serial number (type 1, offset 0x07) from an
// SMBIOS structure table: the bytes of /sys/firmware/dmi/tables/DMI, or the
// table part of Windows' RawSMBIOSData (see ParseRawSMBIOSData). Structures
// are {type u8, length u8, handle u16 LE, formatted area} followed by a set
// of NUL-terminated strings ending in an extra NUL. A truncated or
// inconsistent table, a missing type 1, a zero string index or a placeholder
// value give an error wrapping ErrNoSerial; it never panics.
func ParseSMBIOS(table []byte) (string, error) {
	i := 0
	for i+4 <= len(table) {
		typ, length := table[i], int(table[i+1])
		if length < 4 {
			return "", fmt.Errorf("%w: SMBIOS structure at offset %d has length %d (< 4)", ErrNoSerial, i, length)
		}
		if i+length > len(table) {
			return "", fmt.Errorf("%w: SMBIOS structure type %d at offset %d is truncated", ErrNoSerial, typ, i)
		}
		formatted := table[i : i+length]
		strs, next, err := smbiosStrings(table, i+length)
		if err != nil {
			return "", fmt.Errorf("%w: SMBIOS structure type %d at offset %d: %w", ErrNoSerial, typ, i, err)
		}
		switch typ {
		case smbiosTypeSystem:
			if length <= serialOffset {
				return "", fmt.Errorf("%w: SMBIOS system information is too short (%d bytes) to hold a serial number", ErrNoSerial, length)
			}
			idx := int(formatted[serialOffset])
			if idx == 0 {
				return "", fmt.Errorf("%w: SMBIOS system information has no serial number string", ErrNoSerial)
			}
			if idx > len(strs) {
				return "", fmt.Errorf("%w: SMBIOS serial number string %d does not exist (%d strings)", ErrNoSerial, idx, len(strs))
			}
			return CleanSerial(strs[idx-1])
		case smbiosTypeEnd:
			return "", fmt.Errorf("%w: SMBIOS table has no system information (type 1) structure", ErrNoSerial)
		}
		i = next
	}
	return "", fmt.Errorf("%w: SMBIOS table has no system information (type 1) structure", ErrNoSerial)
}

// smbiosStrings reads the string set starting at off and returns the strings
// and the offset after the set's terminating double NUL.
func smbiosStrings(table []byte, off int) ([]string, int, error) {
	// A structure without strings ends with two NULs right away.
	if off+2 <= len(table) && table[off] == 0 && table[off+1] == 0 {
		return nil, off + 2, nil
	}
	var strs []string
	start := off
	for j := off; j < len(table); j++ {
		if table[j] != 0 {
			continue
		}
		strs = append(strs, string(table[start:j]))
		if j+1 < len(table) && table[j+1] == 0 {
			return strs, j + 2, nil
		}
		start = j + 1
	}
	return nil, 0, errors.New("string set is not terminated")
}

// rawSMBIOSHeader is the size of Windows' RawSMBIOSData header:
// {Used20CallingMethod u8, SMBIOSMajorVersion u8, SMBIOSMinorVersion u8,
// DmiRevision u8, Length u32 LE}, followed by Length bytes of table.
const rawSMBIOSHeader = 8

// ParseRawSMBIOSData reads what GetSystemFirmwareTable('RSMB', 0, …) returns.
func ParseRawSMBIOSData(buf []byte) (string, error) {
	if len(buf) < rawSMBIOSHeader {
		return "", fmt.Errorf("%w: RawSMBIOSData is %d bytes, shorter than its header", ErrNoSerial, len(buf))
	}
	n := binary.LittleEndian.Uint32(buf[4:8])
	table := buf[rawSMBIOSHeader:]
	if uint64(n) > uint64(len(table)) {
		return "", fmt.Errorf("%w: RawSMBIOSData claims %d table bytes but holds %d", ErrNoSerial, n, len(table))
	}
	return ParseSMBIOS(table[:n])
}
