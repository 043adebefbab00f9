// Package httpfield checks HTTP field names, values and Host headers the
// way net/http does before it sends a request (http.Transport) or after it
// reads one (its server: golang.org/x/net/http/httpguts, which it
// vendors), for code that parses or writes HTTP/1.1 itself.
package httpfield

import (
	"encoding/binary"
	"net/textproto"
	"strings"
)

// ValidName reports whether k is a field name: a non-empty RFC 9110 token.
func ValidName(k string) bool {
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

var tokenByte = table("!#$%&'*+-.^_`|~")

// ValidValue reports whether v is a field value: no control byte but tab
// (no byte below 0x20 except 0x09, no 0x7f; bytes from 0x80 are allowed).
// Values are mostly short, the kilobyte-long client certificate aside, so
// it looks at eight bytes at a time: a word with no byte below 0x20 and no
// 0x7f is fine; any other word is checked byte by byte.
func ValidValue(v string) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(v); i += 8 {
		x := binary.LittleEndian.Uint64([]byte(v[i : i+8]))
		below20 := (x - 0x20*ones) &^ x & highs // some byte < 0x20
		y := x ^ 0x7f*ones
		is7f := (y - ones) &^ y & highs // some byte == 0x7f
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

// ValidHost is httpguts.ValidHostHeader: only bytes that may appear in a
// host, an IPv6 literal, a zone or a port (it does not check the form).
func ValidHost(h string) bool {
	for i := 0; i < len(h); i++ {
		if !hostByte[h[i]] {
			return false
		}
	}
	return true
}

var hostByte = table("!$%&'()*+,-.:;=[]_~")

// table marks letters, digits and the bytes of extra.
func table(extra string) (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for i := 0; i < len(extra); i++ {
		t[extra[i]] = true
	}
	return t
}

// OnlyKeepAliveOrClose reports whether the Connection field values name no
// option but "keep-alive" and "close" (ASCII case-insensitively, around
// optional whitespace): a request with no other hop-by-hop header named.
func OnlyKeepAliveOrClose(connection []string) bool {
	for _, v := range connection {
		for tok := range strings.SplitSeq(v, ",") {
			if t := textproto.TrimString(tok); t != "" && !strings.EqualFold(t, "keep-alive") && !strings.EqualFold(t, "close") {
				return false
			}
		}
	}
	return true
}
