package cert

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Info holds every derived fact about one certificate, in the formats that the
// client_certificates columns and the edge's cf.tls_client_auth fields print
// (docs/contracts.md, "Value formats").
type Info struct {
	CommonName string
	// Subject and Issuer are RFC 2253 strings, most specific RDN first, with
	// Go's escaping (pkix.RDNSequence.String, which equals pkix.Name.String
	// for names in the usual order): "CN=James Royal,OU=Access Admins,O=Access,C=US".
	Subject string
	Issuer  string
	// SubjectLegacy and IssuerLegacy are OpenSSL one-line names in certificate
	// order: "/C=US/O=Access/OU=Access Admins/CN=James Royal".
	SubjectLegacy string
	IssuerLegacy  string
	// Serial is the serial's magnitude as uppercase hex, two digits per byte.
	Serial string
	// SHA1 and SHA256 are lowercase hex digests of the DER.
	SHA1   string
	SHA256 string

	NotBefore time.Time
	NotAfter  time.Time

	// SignatureAlgorithm as Go names it, e.g. "SHA256-RSA", "ECDSA-SHA384", "Ed25519".
	SignatureAlgorithm string
	// KeyAlgorithm is "RSA", "ECDSA", "Ed25519", "DSA" or "unknown".
	KeyAlgorithm string
	// KeyStrength is the modulus size in bits for RSA ("2048"), the curve
	// name for ECDSA ("P-256"), "256" for Ed25519; empty when unknown.
	KeyStrength string

	// KeyUsage lists key usage bits in ascending bit order, e.g.
	// "digitalSignature", "keyEncipherment".
	KeyUsage []string
	// ExtKeyUsage lists extended key usages in certificate order, by name
	// where known ("clientAuth"), as dotted OIDs otherwise.
	ExtKeyUsage []string

	DNSNames       []string
	EmailAddresses []string
	IPAddresses    []string
	URIs           []string
	// OtherNames are the SAN otherName entries as printed in
	// subject_alt_names ("UPN:user@domain", "othername:<oid>:<value>");
	// UPNs the user principal names among them.
	OtherNames []string
	UPNs       []string
	// MSSID is the SID of Microsoft's strong certificate mapping, from
	// extension 1.3.6.1.4.1.311.25.2 or a SAN URI with SIDURIPrefix.
	MSSID string
	// Template is the Microsoft certificate template (see MicrosoftNames).
	Template string

	// SubjectKeyID and AuthorityKeyID are uppercase hex, no separators.
	SubjectKeyID   string
	AuthorityKeyID string

	IsCA bool
	// SelfSigned means the certificate is self-issued (issuer = subject, as
	// RFC 5280 and OpenSSL require) and its own key verifies its signature
	// (SHA-1 signatures included). Matching names alone never count.
	SelfSigned bool
}

// NewInfo derives the facts of c. A nil c gives the zero Info.
func NewInfo(c *x509.Certificate) Info {
	if c == nil {
		return Info{}
	}
	s1 := sha1.Sum(c.Raw)
	s256 := sha256.Sum256(c.Raw)
	info := Info{
		CommonName:         c.Subject.CommonName,
		Subject:            rfc2253(c.RawSubject, c.Subject),
		Issuer:             rfc2253(c.RawIssuer, c.Issuer),
		SubjectLegacy:      LegacyDN(c.RawSubject),
		IssuerLegacy:       LegacyDN(c.RawIssuer),
		Serial:             SerialHex(c),
		SHA1:               hex.EncodeToString(s1[:]),
		SHA256:             hex.EncodeToString(s256[:]),
		NotBefore:          c.NotBefore.UTC(),
		NotAfter:           c.NotAfter.UTC(),
		SignatureAlgorithm: c.SignatureAlgorithm.String(),
		KeyUsage:           KeyUsageNames(c.KeyUsage),
		ExtKeyUsage:        ExtKeyUsageNames(c),
		DNSNames:           c.DNSNames,
		EmailAddresses:     c.EmailAddresses,
		SubjectKeyID:       strings.ToUpper(hex.EncodeToString(c.SubjectKeyId)),
		AuthorityKeyID:     strings.ToUpper(hex.EncodeToString(c.AuthorityKeyId)),
		IsCA:               c.BasicConstraintsValid && c.IsCA,
	}
	info.SelfSigned = selfSigned(c, info.Subject, info.Issuer)
	info.KeyAlgorithm, info.KeyStrength = keyFacts(c)
	for _, ip := range c.IPAddresses {
		info.IPAddresses = append(info.IPAddresses, ip.String())
	}
	for _, u := range c.URIs {
		info.URIs = append(info.URIs, u.String())
	}
	// Malformed Microsoft extensions leave their fields empty; what parsed
	// is kept (a certificate is never rejected for them).
	ms, _ := ParseMicrosoftNames(c)
	for _, on := range ms.OtherNames {
		info.OtherNames = append(info.OtherNames, on.String())
	}
	info.UPNs, info.MSSID, info.Template = ms.UPNs, ms.SID, ms.Template
	return info
}

// rfc2253 prints a name in RFC 2253 order with Go's escaping. It prints the
// RDN sequence itself rather than the pkix.Name: Name.String regroups
// attributes by type, which reorders unusual names and splits multi-valued
// RDNs. For names in the usual order both print the same.
func rfc2253(raw []byte, parsed pkix.Name) string {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &seq); err != nil || len(rest) > 0 {
		return parsed.String()
	}
	return seq.String()
}

// SubjectAltNames returns every SAN with its kind, in the order DNS, email,
// IP, URI, otherName: "DNS:a.example", "email:x@example", "IP:10.0.0.1",
// "URI:spiffe://…", "UPN:user@corp.example", "othername:<oid>:<value>".
func (i Info) SubjectAltNames() []string {
	var out []string
	for _, v := range i.DNSNames {
		out = append(out, "DNS:"+v)
	}
	for _, v := range i.EmailAddresses {
		out = append(out, "email:"+v)
	}
	for _, v := range i.IPAddresses {
		out = append(out, "IP:"+v)
	}
	for _, v := range i.URIs {
		out = append(out, "URI:"+v)
	}
	return append(out, i.OtherNames...)
}

// HasExtKeyUsage reports whether name (e.g. "clientAuth" or a dotted OID) is
// among the certificate's extended key usages.
func (i Info) HasExtKeyUsage(name string) bool {
	for _, e := range i.ExtKeyUsage {
		if strings.EqualFold(e, name) {
			return true
		}
	}
	return false
}

// ValidAt reports whether t lies inside the validity period.
func (i Info) ValidAt(t time.Time) bool {
	return !t.Before(i.NotBefore) && !t.After(i.NotAfter)
}

// FormatTime prints t as `openssl x509 -enddate` does: "Mar 21 13:35:00 2022 GMT",
// the day padded to two characters with a space ("Jan  9 21:25:45 2040 GMT").
func FormatTime(t time.Time) string {
	return t.UTC().Format("Jan _2 15:04:05 2006 GMT")
}

// SerialHex prints the serial's magnitude as uppercase hex, two digits per
// byte, as `openssl x509 -serial` does. Negative serials (invalid, but seen in
// the wild) print their magnitude.
func SerialHex(c *x509.Certificate) string {
	if c.SerialNumber == nil {
		return ""
	}
	b := c.SerialNumber.Bytes() // magnitude, big-endian, no sign byte
	if len(b) == 0 {
		return "00"
	}
	return strings.ToUpper(hex.EncodeToString(b))
}

func keyFacts(c *x509.Certificate) (alg, strength string) {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return "RSA", strconv.Itoa(k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA", k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519", "256"
	}
	switch c.PublicKeyAlgorithm {
	case x509.DSA:
		return "DSA", ""
	case x509.UnknownPublicKeyAlgorithm:
		return "unknown", ""
	}
	return c.PublicKeyAlgorithm.String(), ""
}

var keyUsageNames = []string{
	"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment",
	"keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly",
}

// KeyUsageNames lists the set bits of ku by their RFC 5280 names, ascending.
func KeyUsageNames(ku x509.KeyUsage) []string {
	var out []string
	for bit, name := range keyUsageNames {
		if ku&(1<<bit) != 0 {
			out = append(out, name)
		}
	}
	return out
}
