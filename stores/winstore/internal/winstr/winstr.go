// Package winstr decodes the strings Windows writes into its binary
// formats (store element properties, key files): UTF-16LE, ended by a NUL.
// One decoder, so that every format reads a malformed string the same way.
package winstr

import (
	"encoding/binary"
	"unicode/utf16"
)

// Decode decodes UTF-16LE up to the first NUL or the end of b; an odd last
// byte is dropped and unpaired surrogates become U+FFFD (what Windows' own
// conversion does too), so it never fails.
func Decode(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}
