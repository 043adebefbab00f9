package cert

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
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

// attributeNames are OpenSSL's short names for the attribute types met in
// subject and issuer names; others print as dotted OIDs.
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
	"2.5.4.17":                   "postalCode",
	"2.5.4.42":                   "GN",
	"2.5.4.43":                   "initials",
	"2.5.4.46":                   "dnQualifier",
	"2.5.4.65":                   "pseudonym",
	"0.9.2342.19200300.100.1.1":  "UID",
	"0.9.2342.19200300.100.1.25": "DC",
	"1.2.840.113549.1.9.1":       "emailAddress",
}

// LegacyDN prints a DER-encoded name as OpenSSL's X509_NAME_oneline does: in
// certificate order, "/" before each attribute: "/C=US/O=Access/CN=James Royal".
// Multi-valued RDNs join their attributes with "+". Undecodable input gives "".
func LegacyDN(rawName []byte) string {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(rawName, &seq); err != nil || len(rest) > 0 {
		return ""
	}
	var sb strings.Builder
	for _, rdn := range seq {
		sb.WriteByte('/')
		for i, atv := range rdn {
			if i > 0 {
				sb.WriteByte('+')
			}
			name, ok := attributeNames[atv.Type.String()]
			if !ok {
				name = atv.Type.String()
			}
			sb.WriteString(name)
			sb.WriteByte('=')
			sb.WriteString(legacyValue(atv.Value))
		}
	}
	return sb.String()
}

// legacyValue escapes "/" and control bytes the way OpenSSL's oneline form
// does ("\xHH"), so a crafted value cannot fake extra attributes.
func legacyValue(v any) string {
	s, ok := v.(string)
	if !ok {
		s = fmt.Sprint(v)
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c == '/' {
			fmt.Fprintf(&sb, "\\x%02X", c)
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}
