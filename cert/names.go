package cert

import (
	"crypto/x509"
	"encoding/asn1"
	"strings"
)

// extKeyUsageNames uses OpenSSL's short names, which are also Cloudflare's.
var extKeyUsageNames = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageAny:                            "anyExtendedKeyUsage",
	x509.ExtKeyUsageServerAuth:                     "serverAuth",
	x509.ExtKeyUsageClientAuth:                     "clientAuth",
	x509.ExtKeyUsageCodeSigning:                    "codeSigning",
	x509.ExtKeyUsageEmailProtection:                "emailProtection",
	x509.ExtKeyUsageIPSECEndSystem:                 "ipsecEndSystem",
	x509.ExtKeyUsageIPSECTunnel:                    "ipsecTunnel",
	x509.ExtKeyUsageIPSECUser:                      "ipsecUser",
	x509.ExtKeyUsageTimeStamping:                   "timeStamping",
	x509.ExtKeyUsageOCSPSigning:                    "OCSPSigning",
	x509.ExtKeyUsageMicrosoftServerGatedCrypto:     "msSGC",
	x509.ExtKeyUsageNetscapeServerGatedCrypto:      "nsSGC",
	x509.ExtKeyUsageMicrosoftCommercialCodeSigning: "msCodeCom",
	x509.ExtKeyUsageMicrosoftKernelCodeSigning:     "1.3.6.1.4.1.311.61.1.1",
}

// extKeyUsageByOID holds names for usages Go does not model itself.
var extKeyUsageByOID = map[string]string{
	"1.3.6.1.4.1.311.20.2.2": "msSmartcardLogin",
	"1.3.6.1.5.5.7.3.17":     "ipsecIKE",
	"1.3.6.1.5.2.3.4":        "pkInitClientAuth",
	"1.3.6.1.4.1.311.10.3.4": "msEFS",
}

// ExtKeyUsageNames lists c's extended key usages in certificate order: known
// ones by name (clientAuth, emailProtection, serverAuth, codeSigning,
// timeStamping, OCSPSigning, …), unknown ones as dotted OIDs.
func ExtKeyUsageNames(c *x509.Certificate) []string {
	// Go splits known and unknown usages into two slices and loses their
	// order, so read the extension itself when present.
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidExtKeyUsage) {
			continue
		}
		var oids []asn1.ObjectIdentifier
		if rest, err := asn1.Unmarshal(ext.Value, &oids); err != nil || len(rest) > 0 {
			break
		}
		out := make([]string, 0, len(oids))
		for _, oid := range oids {
			out = append(out, ExtKeyUsageName(oid))
		}
		return out
	}
	var out []string
	for _, u := range c.ExtKeyUsage {
		out = append(out, extKeyUsageNames[u])
	}
	for _, oid := range c.UnknownExtKeyUsage {
		out = append(out, ExtKeyUsageName(oid))
	}
	return out
}

var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}

var knownEKUOIDs = map[string]x509.ExtKeyUsage{
	"2.5.29.37.0":            x509.ExtKeyUsageAny,
	"1.3.6.1.5.5.7.3.1":      x509.ExtKeyUsageServerAuth,
	"1.3.6.1.5.5.7.3.2":      x509.ExtKeyUsageClientAuth,
	"1.3.6.1.5.5.7.3.3":      x509.ExtKeyUsageCodeSigning,
	"1.3.6.1.5.5.7.3.4":      x509.ExtKeyUsageEmailProtection,
	"1.3.6.1.5.5.7.3.5":      x509.ExtKeyUsageIPSECEndSystem,
	"1.3.6.1.5.5.7.3.6":      x509.ExtKeyUsageIPSECTunnel,
	"1.3.6.1.5.5.7.3.7":      x509.ExtKeyUsageIPSECUser,
	"1.3.6.1.5.5.7.3.8":      x509.ExtKeyUsageTimeStamping,
	"1.3.6.1.5.5.7.3.9":      x509.ExtKeyUsageOCSPSigning,
	"1.3.6.1.4.1.311.10.3.3": x509.ExtKeyUsageMicrosoftServerGatedCrypto,
	"2.16.840.1.113730.4.1":  x509.ExtKeyUsageNetscapeServerGatedCrypto,
	"1.3.6.1.4.1.311.2.1.22": x509.ExtKeyUsageMicrosoftCommercialCodeSigning,
	"1.3.6.1.4.1.311.61.1.1": x509.ExtKeyUsageMicrosoftKernelCodeSigning,
}

// ExtKeyUsageName names one EKU OID, or returns it dotted when unknown.
func ExtKeyUsageName(oid asn1.ObjectIdentifier) string {
	s := oid.String()
	if u, ok := knownEKUOIDs[s]; ok {
		return extKeyUsageNames[u]
	}
	if n, ok := extKeyUsageByOID[s]; ok {
		return n
	}
	return s
}

// attributeNames are OpenSSL's short names (OBJ_nid2sn) for the attribute
// types met in subject and issuer names; others print as dotted OIDs.
var attributeNames = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.4":                    "SN",
	"2.5.4.5":                    "serialNumber",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.9":                    "street",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.12":                   "title",
	"2.5.4.13":                   "description",
	"2.5.4.15":                   "businessCategory",
	"2.5.4.16":                   "postalAddress",
	"2.5.4.17":                   "postalCode",
	"2.5.4.18":                   "postOfficeBox",
	"2.5.4.41":                   "name",
	"2.5.4.42":                   "GN",
	"2.5.4.43":                   "initials",
	"2.5.4.44":                   "generationQualifier",
	"2.5.4.45":                   "x500UniqueIdentifier",
	"2.5.4.46":                   "dnQualifier",
	"2.5.4.65":                   "pseudonym",
	"2.5.4.72":                   "role",
	"2.5.4.97":                   "organizationIdentifier",
	"0.9.2342.19200300.100.1.1":  "UID",
	"0.9.2342.19200300.100.1.25": "DC",
	"1.2.840.113549.1.9.1":       "emailAddress",
	"1.2.840.113549.1.9.2":       "unstructuredName",
	"1.2.840.113549.1.9.8":       "unstructuredAddress",
	"1.3.6.1.4.1.311.60.2.1.1":   "jurisdictionL",
	"1.3.6.1.4.1.311.60.2.1.2":   "jurisdictionST",
	"1.3.6.1.4.1.311.60.2.1.3":   "jurisdictionC",
}

// rawATV and rawRDNSET mirror pkix's types but keep each value's raw bytes:
// OpenSSL prints the stored bytes (UTF-8, Latin-1, UCS-2 alike), not text.
type rawATV struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// rawRDNSET's name ends in SET so encoding/asn1 expects a SET OF.
type rawRDNSET []rawATV

// LegacyDN prints a DER-encoded name as OpenSSL's X509_NAME_oneline does
// (what `openssl x509 -subject -nameopt compat` prints): in certificate
// order, "/" before each RDN and "+" between the attributes of a
// multi-valued RDN: "/C=US/O=Access/CN=James Royal". Value bytes outside
// printable ASCII print as "\xHH", and "/" and "+" as "\/" and "\+", so a
// crafted value cannot fake extra attributes. Undecodable input gives "".
func LegacyDN(rawName []byte) string {
	var seq []rawRDNSET
	if rest, err := asn1.Unmarshal(rawName, &seq); err != nil || len(rest) > 0 {
		return ""
	}
	var sb strings.Builder
	for _, rdn := range seq {
		for i, atv := range rdn {
			if i == 0 {
				sb.WriteByte('/')
			} else {
				sb.WriteByte('+')
			}
			oid := atv.Type.String()
			if name, ok := attributeNames[oid]; ok {
				oid = name
			}
			sb.WriteString(oid)
			sb.WriteByte('=')
			writeLegacyValue(&sb, atv.Value)
		}
	}
	return sb.String()
}

// writeLegacyValue writes v's content bytes escaped as X509_NAME_oneline
// does. (OpenSSL also special-cases GeneralString, which neither it nor Go
// accepts in a certificate's name, so that case is left out.)
func writeLegacyValue(sb *strings.Builder, v asn1.RawValue) {
	const hexDigits = "0123456789ABCDEF"
	for _, c := range v.Bytes {
		switch {
		case c < ' ' || c > '~':
			sb.WriteString(`\x`)
			sb.WriteByte(hexDigits[c>>4])
			sb.WriteByte(hexDigits[c&0xf])
		case c == '/' || c == '+':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		default:
			sb.WriteByte(c)
		}
	}
}
