package cert

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Size limits for RFC 9440 values, as Cloudflare applies them: an encoded leaf
// longer than MaxClientCertLen or an encoded chain longer than
// MaxClientCertChainLen is "too large" and is not forwarded.
const (
	MaxClientCertLen      = 10 * 1024
	MaxClientCertChainLen = 16 * 1024
)

// Errors returned by the RFC 9440 parsers, wrapped with the position.
var (
	ErrEmptyField    = errors.New("empty field value")
	ErrNotByteSeq    = errors.New("not an RFC 8941 byte sequence")
	ErrBadBase64     = errors.New("invalid base64 in byte sequence")
	ErrBadListSyntax = errors.New("invalid RFC 8941 list")
)

// EncodeClientCert encodes a DER certificate as the RFC 9440 Client-Cert
// value: an RFC 8941 byte sequence, ":" + standard padded base64 + ":".
func EncodeClientCert(der []byte) string {
	buf := make([]byte, 0, base64.StdEncoding.EncodedLen(len(der))+2)
	return string(appendByteSeq(buf, der))
}

// EncodeClientCertChain encodes DER certificates as the RFC 9440
// Client-Cert-Chain value: byte sequences joined by ", ". No members give "".
func EncodeClientCertChain(ders [][]byte) string {
	if len(ders) == 0 {
		return ""
	}
	n := 0
	for _, d := range ders {
		n += base64.StdEncoding.EncodedLen(len(d)) + 4
	}
	buf := make([]byte, 0, n)
	for i, d := range ders {
		if i > 0 {
			buf = append(buf, ',', ' ')
		}
		buf = appendByteSeq(buf, d)
	}
	return string(buf)
}

func appendByteSeq(buf, der []byte) []byte {
	buf = append(buf, ':')
	buf = base64.StdEncoding.AppendEncode(buf, der)
	return append(buf, ':')
}

// ParseClientCert parses a Client-Cert value strictly: exactly one byte
// sequence, optional leading and trailing spaces, no parameters.
func ParseClientCert(v string) ([]byte, error) {
	s := strings.TrimLeft(v, " ")
	if s == "" {
		return nil, ErrEmptyField
	}
	der, n, err := parseByteSeq(s)
	if err != nil {
		return nil, fmt.Errorf("offset %d: %w", len(v)-len(s), err)
	}
	if rest := strings.TrimLeft(s[n:], " "); rest != "" {
		return nil, fmt.Errorf("offset %d: unexpected %q after byte sequence: %w", len(v)-len(rest), rest[0], ErrNotByteSeq)
	}
	return der, nil
}

// ParseClientCertChain parses a Client-Cert-Chain value strictly: a list whose
// members are all byte sequences, separated by "," with optional spaces or
// tabs around it. Empty members, trailing commas, parameters and inner lists
// are rejected. An empty value is an error (an empty list is never sent).
func ParseClientCertChain(v string) ([][]byte, error) {
	s := strings.TrimLeft(v, " ")
	if s == "" {
		return nil, ErrEmptyField
	}
	var out [][]byte
	for {
		off := len(v) - len(s)
		der, n, err := parseByteSeq(s)
		if err != nil {
			return nil, fmt.Errorf("member %d at offset %d: %w", len(out)+1, off, err)
		}
		out = append(out, der)
		s = strings.TrimLeft(s[n:], " \t")
		if s == "" {
			return out, nil
		}
		if s[0] != ',' {
			return nil, fmt.Errorf("offset %d: expected ',' but found %q: %w", len(v)-len(s), s[0], ErrBadListSyntax)
		}
		s = strings.TrimLeft(s[1:], " \t")
		if s == "" {
			return nil, fmt.Errorf("offset %d: trailing comma: %w", len(v), ErrBadListSyntax)
		}
	}
}

// parseByteSeq reads one byte sequence at the start of s and returns the
// decoded bytes and how many characters it used. Missing "=" padding is
// accepted, as RFC 8941 asks; anything outside the base64 alphabet is not.
func parseByteSeq(s string) ([]byte, int, error) {
	if s[0] != ':' {
		return nil, 0, fmt.Errorf("starts with %q, want ':': %w", s[0], ErrNotByteSeq)
	}
	end := strings.IndexByte(s[1:], ':')
	if end < 0 {
		return nil, 0, fmt.Errorf("no closing ':': %w", ErrNotByteSeq)
	}
	body := s[1 : 1+end]
	for i := 0; i < len(body); i++ {
		if !isBase64Char(body[i]) {
			return nil, 0, fmt.Errorf("character %q at %d: %w", body[i], i+1, ErrBadBase64)
		}
	}
	if body == "" {
		return nil, 0, fmt.Errorf("empty byte sequence: %w", ErrNotByteSeq)
	}
	der, err := decodeBase64(body)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrBadBase64, err)
	}
	return der, end + 2, nil
}

// decodeBase64 decodes standard base64 whose "=" padding may be missing in
// whole or in part; padding that is misplaced or more than needed fails.
func decodeBase64(body string) ([]byte, error) {
	trimmed := strings.TrimRight(body, "=")
	pads := len(body) - len(trimmed)
	if strings.Contains(trimmed, "=") || pads > (4-len(trimmed)%4)%4 {
		return nil, errors.New("misplaced padding")
	}
	// RawStdEncoding with Strict off tolerates non-zero pad bits, which
	// RFC 8941 asks parsers not to fail on.
	der, err := base64.RawStdEncoding.DecodeString(trimmed)
	if err != nil {
		return nil, err
	}
	if len(der) == 0 {
		return nil, errors.New("no bytes")
	}
	return der, nil
}

func isBase64Char(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '+' || c == '/' || c == '='
}
