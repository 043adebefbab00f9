package nssdb

import (
	"strings"

	"github.com/certsight/certsight/internal/certdb"
)

// Trust as `certutil -L` prints it. The read side follows NSS:
// lib/dev/ckhelper.c get_nss_trust (stored value → level), lib/pki/pki3hack.c
// get_nss3trust_from_nss4trust and cert_trust_from_stan_trust (level → flags),
// cmd/lib/secutil.c printflags (flags → letters).

// level is NSS's nssTrustLevel.
type level int

const (
	levelUnknown level = iota // also MUST_VERIFY_TRUST: no letters
	levelNotTrusted
	levelTrusted
	levelTrustedDelegator
	levelValidDelegator
)

// CKO_NSS_TRUST values, CKT_NSS (0xce534350) + n.
const (
	cktNSSTrusted          = 0xce534351
	cktNSSTrustedDelegator = 0xce534352
	cktNSSMustVerify       = 0xce534353
	cktNSSTrustUnknown     = 0xce534355
	cktNSSNotTrusted       = 0xce53435a
	cktNSSValidDelegator   = 0xce53435b
)

// CKO_TRUST values (PKCS#11 3.2 CKT_*).
const (
	cktUnknown     = 0
	cktTrusted     = 1
	cktTrustAnchor = 2
	cktNotTrusted  = 3
	cktMustVerify  = 4
)

// levelOf maps a stored trust value of an object of class to a level.
// Unknown values count as unknown, as NSS's default branch does.
func levelOf(class, v uint32) level {
	if class == classTrust {
		switch v {
		case cktTrusted:
			return levelTrusted
		case cktTrustAnchor:
			return levelTrustedDelegator
		case cktNotTrusted:
			return levelNotTrusted
		}
		return levelUnknown
	}
	switch v {
	case cktNSSTrusted:
		return levelTrusted
	case cktNSSTrustedDelegator:
		return levelTrustedDelegator
	case cktNSSNotTrusted:
		return levelNotTrusted
	case cktNSSValidDelegator:
		return levelValidDelegator
	}
	return levelUnknown
}

func flagsOf(l level) uint32 {
	switch l {
	case levelTrusted:
		return certdb.TerminalRecord | certdb.Trusted
	case levelTrustedDelegator:
		return certdb.ValidCA | certdb.TrustedCA | certdb.NSTrustedCA
	case levelNotTrusted:
		return certdb.TerminalRecord
	case levelValidDelegator:
		return certdb.ValidCA
	}
	return 0
}

// trustObject is one decoded trust object (either class) for a certificate.
type trustObject struct {
	class                                    uint32
	serverAuth, clientAuth, codeSign, emailP uint32
	stepUp                                   bool
}

// certTrust holds the three CERTCertTrust flag words.
type certTrust struct{ ssl, email, objSign uint32 }

// toCertTrust is cert_trust_from_stan_trust: a client-auth trusted CA becomes
// TRUSTED_CLIENT_CA in the SSL field.
func (t trustObject) toCertTrust() certTrust {
	ssl := flagsOf(levelOf(t.class, t.serverAuth))
	client := flagsOf(levelOf(t.class, t.clientAuth))
	if client&(certdb.TrustedCA|certdb.NSTrustedCA) != 0 {
		client &^= certdb.TrustedCA | certdb.NSTrustedCA
		ssl |= certdb.TrustedClientCA
	}
	ssl |= client
	if t.stepUp {
		ssl |= certdb.GovtApprovedCA
	}
	return certTrust{
		ssl:     ssl,
		email:   flagsOf(levelOf(t.class, t.emailP)),
		objSign: flagsOf(levelOf(t.class, t.codeSign)),
	}
}

// trustString renders the trust of a certificate as `certutil -L` does. obj
// is nil when the certificate has no trust object; hasKey adds `u` to every
// field, as NSS does when the private key is available (it is never stored).
func trustString(obj *trustObject, hasKey bool) string {
	var t certTrust
	if obj != nil {
		t = obj.toCertTrust()
	}
	if hasKey {
		t.ssl |= certdb.User
		t.email |= certdb.User
		t.objSign |= certdb.User
	}
	var b strings.Builder
	b.Grow(12)
	printFlags(&b, t.ssl)
	b.WriteByte(',')
	printFlags(&b, t.email)
	b.WriteByte(',')
	printFlags(&b, t.objSign)
	return b.String()
}

// printFlags is secutil.c printflags.
func printFlags(b *strings.Builder, f uint32) {
	if f&certdb.ValidCA != 0 && f&(certdb.TrustedCA|certdb.TrustedClientCA) == 0 {
		b.WriteByte('c')
	}
	if f&certdb.TerminalRecord != 0 && f&certdb.Trusted == 0 {
		b.WriteByte('p')
	}
	if f&certdb.TrustedCA != 0 {
		b.WriteByte('C')
	}
	if f&certdb.TrustedClientCA != 0 {
		b.WriteByte('T')
	}
	if f&certdb.Trusted != 0 {
		b.WriteByte('P')
	}
	if f&certdb.User != 0 {
		b.WriteByte('u')
	}
	if f&certdb.SendWarn != 0 {
		b.WriteByte('w')
	}
	if f&certdb.InvisibleCA != 0 {
		b.WriteByte('I')
	}
	if f&certdb.GovtApprovedCA != 0 {
		b.WriteByte('G')
	}
}
