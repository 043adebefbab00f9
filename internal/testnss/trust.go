package testnss

import (
	"fmt"
	"strings"

	"github.com/certsight/certsight/internal/certdb"
)

// Trust is a certificate's trust as certutil -t parses it: three CERTDB_*
// flag words (SSL, S/MIME, JAR/XPI).
type Trust struct {
	SSL, Email, ObjectSigning uint32
}

// ParseTrust parses a certutil -t string such as "CT,C,C" (nss
// lib/certdb/certdb.c CERT_DecodeTrustString).
func ParseTrust(s string) (Trust, error) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return Trust{}, fmt.Errorf("trust %q: want three comma-separated fields", s)
	}
	var out [3]uint32
	for i, f := range fields {
		for _, r := range f {
			switch r {
			case 'p':
				out[i] |= certdb.TerminalRecord
			case 'P':
				out[i] |= certdb.Trusted | certdb.TerminalRecord
			case 'w':
				out[i] |= certdb.SendWarn
			case 'c':
				out[i] |= certdb.ValidCA
			case 'T':
				out[i] |= certdb.TrustedClientCA | certdb.ValidCA
			case 'C':
				out[i] |= certdb.TrustedCA | certdb.ValidCA
			case 'u':
				out[i] |= certdb.User
			case 'i':
				out[i] |= certdb.InvisibleCA
			case 'g':
				out[i] |= certdb.GovtApprovedCA
			default:
				return Trust{}, fmt.Errorf("trust %q: unknown flag %q", s, r)
			}
		}
	}
	return Trust{SSL: out[0], Email: out[1], ObjectSigning: out[2]}, nil
}

// stanLevel is pki3hack.c get_stan_trust: the trust level NSS stores for
// one usage.
type stanLevelT int

const (
	levelMustVerify stanLevelT = iota
	levelTrusted
	levelTrustedDelegator
	levelNotTrusted
	levelValidDelegator
)

func stanLevel(f uint32, clientAuth bool) stanLevelT {
	if clientAuth {
		if f&certdb.TrustedClientCA != 0 {
			return levelTrustedDelegator
		}
	} else if f&(certdb.TrustedCA|certdb.NSTrustedCA) != 0 {
		return levelTrustedDelegator
	}
	switch {
	case f&certdb.Trusted != 0:
		return levelTrusted
	case f&certdb.TerminalRecord != 0:
		return levelNotTrusted
	case f&certdb.ValidCA != 0:
		return levelValidDelegator
	}
	return levelMustVerify
}

// nssValue is the CKO_NSS_TRUST value (CKT_NSS_*) of a level.
func nssValue(l stanLevelT) uint32 {
	switch l {
	case levelTrusted:
		return 0xce534351
	case levelTrustedDelegator:
		return 0xce534352
	case levelNotTrusted:
		return 0xce53435a
	case levelValidDelegator:
		return 0xce53435b
	}
	return 0xce534353 // CKT_NSS_MUST_VERIFY_TRUST
}

// pkcs11Value is the CKO_TRUST value (CKT_*) of a level; PKCS#11 3.2 has no
// "valid delegator", so NSS stores must-verify for it.
func pkcs11Value(l stanLevelT) uint32 {
	switch l {
	case levelTrusted:
		return 1 // CKT_TRUSTED
	case levelTrustedDelegator:
		return 2 // CKT_TRUST_ANCHOR
	case levelNotTrusted:
		return 3 // CKT_NOT_TRUSTED
	}
	return 4 // CKT_TRUST_MUST_VERIFY_TRUST
}
