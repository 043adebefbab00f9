package cert

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Names Windows fleets identify users and machines by, which Go's x509
// leaves in the raw extensions:
//
//   - SAN otherName entries: the user principal name (1.3.6.1.4.1.311.20.2.3,
//     a UTF8String "user@domain") that smart-card logon and Active Directory
//     certificate mapping use, and any other otherName;
//   - the SID of Microsoft's strong certificate mapping (the 2022 changes,
//     KB5014754): extension 1.3.6.1.4.1.311.25.2, whose value is a
//     GeneralNames holding an otherName 1.3.6.1.4.1.311.25.2.1 with the SID
//     as an OCTET STRING, or a SAN URI "tag:microsoft.com,2022-09-14:sid:<SID>";
//   - the certificate template: its name (1.3.6.1.4.1.311.20.2, a
//     BMPString, "User") from older CAs, or its OID and version
//     (1.3.6.1.4.1.311.21.7, SEQUENCE { OID, major, minor }) from newer ones.

var (
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidUPN            = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}
	oidNTDSSecurity   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 25, 2}
	oidNTDSObjectSID  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 25, 2, 1}
	oidTemplateName   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2}
	oidTemplateInfo   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 21, 7}
)

// SIDURIPrefix starts the SAN URI that carries a SID for strong mapping.
const SIDURIPrefix = "tag:microsoft.com,2022-09-14:sid:"

// maxNameLen bounds one printed otherName value: a certificate is at most
// a few KiB, but a column value should stay a line.
const maxNameLen = 1024

// OtherName is one SAN otherName entry.
type OtherName struct {
	TypeID asn1.ObjectIdentifier
	// Value is the [0] EXPLICIT value's inner DER.
	Value asn1.RawValue
}

// String prints an otherName as the subject_alt_names column does:
// "UPN:user@domain" for a UPN, "othername:<oid>:<value>" otherwise, the
// value as text when it is a string type and as hex DER when it is not.
func (o OtherName) String() string {
	v, isText := otherNameText(o.Value)
	if o.TypeID.Equal(oidUPN) && isText {
		return "UPN:" + v
	}
	return "othername:" + o.TypeID.String() + ":" + v
}

// otherNameText returns a string-typed value's text, or the hex of its DER.
func otherNameText(v asn1.RawValue) (string, bool) {
	if v.Class == asn1.ClassUniversal {
		switch v.Tag {
		case asn1.TagUTF8String, asn1.TagIA5String, asn1.TagPrintableString, asn1.TagOctetString:
			if utf8.Valid(v.Bytes) {
				return clip(sanitize(string(v.Bytes))), true
			}
		case asn1.TagBMPString:
			if s, err := decodeBMP(v.Bytes); err == nil {
				return clip(sanitize(s)), true
			}
		}
	}
	return clip(hex.EncodeToString(v.FullBytes)), false
}

// sanitize drops control characters and the separators the column joins
// with, so one name cannot pose as several.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == ',' {
			return -1
		}
		return r
	}, s)
}

func clip(s string) string {
	if len(s) <= maxNameLen {
		return s
	}
	for i := maxNameLen; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return ""
}

func decodeBMP(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", errors.New("BMPString of odd length")
	}
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i < len(b); i += 2 {
		u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
	}
	for len(u) > 0 && u[len(u)-1] == 0 { // Windows writes a terminating NUL
		u = u[:len(u)-1]
	}
	return string(utf16.Decode(u)), nil
}

// otherNames returns the otherName entries of a GeneralNames DER value.
func otherNames(generalNames []byte) ([]OtherName, error) {
	var seq asn1.RawValue
	rest, err := asn1.Unmarshal(generalNames, &seq)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 || seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence || !seq.IsCompound {
		return nil, errors.New("not a GeneralNames SEQUENCE")
	}
	var out []OtherName
	for b := seq.Bytes; len(b) > 0; {
		var gn asn1.RawValue
		if b, err = asn1.Unmarshal(b, &gn); err != nil {
			return out, err
		}
		if gn.Class != asn1.ClassContextSpecific || gn.Tag != 0 || !gn.IsCompound {
			continue // not an otherName
		}
		// otherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY },
		// the SEQUENCE's tag replaced by the implicit [0].
		var on OtherName
		inner, err := asn1.Unmarshal(gn.Bytes, &on.TypeID)
		if err != nil {
			return out, fmt.Errorf("otherName type: %w", err)
		}
		var wrap asn1.RawValue
		if rest, err := asn1.Unmarshal(inner, &wrap); err != nil || len(rest) > 0 {
			return out, errors.New("otherName value is malformed")
		}
		if wrap.Class != asn1.ClassContextSpecific || wrap.Tag != 0 || !wrap.IsCompound {
			return out, errors.New("otherName value is not [0] EXPLICIT")
		}
		if rest, err := asn1.Unmarshal(wrap.Bytes, &on.Value); err != nil || len(rest) > 0 {
			return out, errors.New("otherName value is malformed")
		}
		out = append(out, on)
	}
	return out, nil
}

// MicrosoftNames are the Windows identity facts of a certificate.
type MicrosoftNames struct {
	// OtherNames are the SAN otherName entries in certificate order.
	OtherNames []OtherName
	// UPNs are the user principal names among them.
	UPNs []string
	// SID is the strong-mapping SID (extension, else SAN URI).
	SID string
	// Template is the certificate template: its name, its OID (with
	// "v<major>.<minor>" when given), or "name (oid vM.m)" when both are.
	Template string
}

// ParseMicrosoftNames reads the Microsoft name extensions of c. Malformed
// extensions are skipped (reported in err, joined); what could be read is
// returned.
func ParseMicrosoftNames(c *x509.Certificate) (MicrosoftNames, error) {
	var m MicrosoftNames
	var errs []error
	var tmplName, tmplOID string
	for _, ext := range c.Extensions {
		switch {
		case ext.Id.Equal(oidSubjectAltName):
			ons, err := otherNames(ext.Value)
			if err != nil {
				errs = append(errs, fmt.Errorf("subject alternative name: %w", err))
			}
			m.OtherNames = append(m.OtherNames, ons...)
		case ext.Id.Equal(oidNTDSSecurity):
			ons, err := otherNames(ext.Value)
			if err != nil {
				errs = append(errs, fmt.Errorf("SID extension: %w", err))
			}
			for _, on := range ons {
				if on.TypeID.Equal(oidNTDSObjectSID) && m.SID == "" {
					if s, ok := otherNameText(on.Value); ok && validSID(s) {
						m.SID = s
					}
				}
			}
		case ext.Id.Equal(oidTemplateName):
			var v asn1.RawValue
			if _, err := asn1.Unmarshal(ext.Value, &v); err != nil {
				errs = append(errs, fmt.Errorf("template name: %w", err))
				continue
			}
			if s, ok := otherNameText(v); ok {
				tmplName = s
			}
		case ext.Id.Equal(oidTemplateInfo):
			var ti struct {
				ID    asn1.ObjectIdentifier
				Major int `asn1:"optional"`
				Minor int `asn1:"optional"`
			}
			if _, err := asn1.Unmarshal(ext.Value, &ti); err != nil {
				errs = append(errs, fmt.Errorf("template information: %w", err))
				continue
			}
			tmplOID = ti.ID.String()
			if ti.Major != 0 || ti.Minor != 0 {
				tmplOID += fmt.Sprintf(" v%d.%d", ti.Major, ti.Minor)
			}
		}
	}
	for _, on := range m.OtherNames {
		if on.TypeID.Equal(oidUPN) {
			if s, ok := otherNameText(on.Value); ok {
				m.UPNs = append(m.UPNs, s)
			}
		}
	}
	if m.SID == "" {
		for _, u := range c.URIs {
			if s, ok := strings.CutPrefix(u.String(), SIDURIPrefix); ok && validSID(s) {
				m.SID = s
				break
			}
		}
	}
	switch {
	case tmplName != "" && tmplOID != "":
		m.Template = tmplName + " (" + tmplOID + ")"
	case tmplName != "":
		m.Template = tmplName
	default:
		m.Template = tmplOID
	}
	return m, errors.Join(errs...)
}

// validSID accepts the printed form of a Windows SID: "S-1-" then dash
// separated decimal sub-authorities.
func validSID(s string) bool {
	rest, ok := strings.CutPrefix(s, "S-1-")
	if !ok || rest == "" || len(s) > 184 {
		return false
	}
	for _, part := range strings.Split(rest, "-") {
		if part == "" {
			return false
		}
		for _, r := range part {
			if r < '0' || r > '9' {
				return false
			}
		}
	}
	return true
}
