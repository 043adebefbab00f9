package keyfile

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"
)

// CAPIFileHash returns the hash part of the file name of the CAPI
// container named container. CAPI lower-cases the name and hashes it in the
// ANSI code page, so only an ASCII name has a hash that does not depend on
// the machine's code page: ok is false for any other.
func CAPIFileHash(container string) (hash string, ok bool) {
	for i := 0; i < len(container); i++ {
		if container[i] >= 0x80 || container[i] == 0 {
			return "", false
		}
	}
	return wordsHex(md5.Sum([]byte(strings.ToLower(container) + "\x00"))), true
}

// CNGFileHash returns the hash part of the file name of the CNG key named
// name: the MD5 of the lower-cased name with its NUL, in UTF-16LE. ok is
// false for a name outside ASCII, whose lower case Windows may fold
// differently from Unicode's.
func CNGFileHash(name string) (hash string, ok bool) {
	for _, r := range name {
		if r >= 0x80 || r == 0 {
			return "", false
		}
	}
	u := utf16.Encode([]rune(strings.ToLower(name) + "\x00"))
	b := make([]byte, 0, 2*len(u))
	for _, c := range u {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return wordsHex(md5.Sum(b)), true
}

// wordsHex prints a digest as Windows does: four little-endian 32-bit words,
// each as eight hex digits.
func wordsHex(d [16]byte) string {
	var sb strings.Builder
	for i := 0; i < 16; i += 4 {
		fmt.Fprintf(&sb, "%08x", binary.LittleEndian.Uint32(d[i:]))
	}
	return sb.String()
}
