// Package testwinstore writes Windows certificate store elements for tests
// from the documented layout (property records {u32 id, u32 reserved = 1,
// u32 length, value}, little-endian). It is written independently of the
// parser in stores/winstore/internal/element on purpose: a writer that
// shared the parser's constants could not catch a wrong one. Real elements
// made by Windows are in stores/winstore/testdata/real; elements made by
// Wine's crypt32 come from tests/windows/storetool.
package testwinstore

import (
	"encoding/binary"
	"unicode/utf16"
)

// StoreHeader starts a serialized store (.sst): a zero word and "CERT".
var StoreHeader = []byte{0, 0, 0, 0, 'C', 'E', 'R', 'T'}

// EndMarker ends an element list or a serialized store: a zero header.
var EndMarker = make([]byte, 12)

// Prop encodes one property record.
func Prop(id uint32, v []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, id)
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// Element concatenates property records (and end markers) into one element.
func Element(props ...[]byte) []byte {
	var b []byte
	for _, p := range props {
		b = append(b, p...)
	}
	return b
}

// Store returns a serialized store holding the given records after the header.
func Store(props ...[]byte) []byte {
	return append(append([]byte(nil), StoreHeader...), Element(props...)...)
}

// UTF16LE encodes s as UTF-16LE, with a NUL terminator when nul is set.
func UTF16LE(s string, nul bool) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	if nul {
		b = append(b, 0, 0)
	}
	return b
}

// KeyProvInfo writes a persisted CRYPT_KEY_PROV_INFO (the value of
// property 2): seven words (container offset, provider offset, provider
// type, flags, parameter count, parameter offset, key spec), then the
// container and provider names, NUL-terminated UTF-16LE.
func KeyProvInfo(container, provider string, provType, flags, keySpec uint32) []byte {
	c, p := UTF16LE(container, true), UTF16LE(provider, true)
	words := []uint32{28, 28 + uint32(len(c)), provType, flags, 0, 0, keySpec}
	var b []byte
	for _, w := range words {
		b = binary.LittleEndian.AppendUint32(b, w)
	}
	return append(append(b, c...), p...)
}
