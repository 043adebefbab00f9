package revocation

import (
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// CanonicalName is the comparison form of a DER Name (RFC 5280 §7.1, with
// RFC 4518's string preparation reduced to what CAs use): each attribute's
// type, and for directory strings the value case-folded with leading and
// trailing space removed and inner runs of space collapsed to one. Values of
// other types compare as their DER. Attributes within one RDN are sorted,
// since an RDN is a SET. Two names are equal as X.509 compares them when
// their canonical forms are equal.
func CanonicalName(der []byte) (string, error) {
	var rdns []asn1.RawValue
	rest, err := asn1.Unmarshal(der, &rdns)
	if err != nil {
		return "", err
	}
	if len(rest) != 0 {
		return "", errors.New("trailing data after name")
	}
	var b strings.Builder
	for _, rdn := range rdns {
		if rdn.Class != asn1.ClassUniversal || rdn.Tag != asn1.TagSet {
			return "", errors.New("RDN is not a SET")
		}
		var atvs []string
		in := rdn.Bytes
		for len(in) > 0 {
			var atv struct {
				Type  asn1.ObjectIdentifier
				Value asn1.RawValue
			}
			in, err = asn1.Unmarshal(in, &atv)
			if err != nil {
				return "", err
			}
			atvs = append(atvs, atv.Type.String()+"="+canonicalValue(atv.Value))
		}
		slices.Sort(atvs)
		b.WriteByte('/')
		b.WriteString(strings.Join(atvs, "+"))
	}
	return b.String(), nil
}

// canonicalValue prepares one attribute value. Directory strings come out
// quoted (with '"' and '\\' escaped) and everything else as "#" and hex, so
// no value can imitate a separator of CanonicalName.
func canonicalValue(v asn1.RawValue) string {
	if v.Class != asn1.ClassUniversal {
		return "#" + hex.EncodeToString(v.FullBytes)
	}
	var s string
	switch v.Tag {
	case asn1.TagPrintableString, asn1.TagUTF8String, asn1.TagIA5String, asn1.TagT61String:
		if !utf8.Valid(v.Bytes) {
			return "#" + hex.EncodeToString(v.FullBytes)
		}
		s = string(v.Bytes)
	case asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			return "#" + hex.EncodeToString(v.FullBytes)
		}
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		s = string(utf16.Decode(u))
	case 28: // UniversalString, UCS-4
		if len(v.Bytes)%4 != 0 {
			return "#" + hex.EncodeToString(v.FullBytes)
		}
		r := make([]rune, len(v.Bytes)/4)
		for i := range r {
			r[i] = rune(uint32(v.Bytes[4*i])<<24 | uint32(v.Bytes[4*i+1])<<16 | uint32(v.Bytes[4*i+2])<<8 | uint32(v.Bytes[4*i+3]))
		}
		s = string(r)
	default:
		return "#" + hex.EncodeToString(v.FullBytes)
	}
	var b strings.Builder
	b.WriteByte('"')
	space := false
	for _, r := range strings.TrimFunc(s, unicode.IsSpace) {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		r = unicode.ToLower(unicode.ToUpper(r))
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}
