package h1lane

import "encoding/binary"

// The checks net/http's server makes on a request head after parsing it
// (golang.org/x/net/http/httpguts, which it vendors).

// validHost is httpguts.ValidHostHeader.
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		if !validHostByte[h[i]] {
			return false
		}
	}
	return true
}

var validHostByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!$%&()*+,-.:;=[']_~" {
		t[c] = true
	}
	return t
}()

// validName is httpguts.ValidHeaderFieldName: a non-empty RFC 9110 token.
func validName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !tokenByte[k[i]] {
			return false
		}
	}
	return true
}

var tokenByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// validValue is httpguts.ValidHeaderFieldValue: no control byte but tab
// (bytes from 0x80 are allowed). Values are mostly short, the
// kilobyte-long client certificate aside, so eight bytes are looked at at
// a time.
func validValue(v string) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(v); i += 8 {
		x := binary.LittleEndian.Uint64([]byte(v[i : i+8]))
		below20 := (x - 0x20*ones) &^ x & highs
		y := x ^ 0x7f*ones
		is7f := (y - ones) &^ y & highs
		if below20|is7f != 0 && !validBytes(v[i:i+8]) {
			return false
		}
	}
	return validBytes(v[i:])
}

func validBytes(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
