package nsswrite

import (
	"fmt"
	"strings"
)

// Trust is a certificate's trust as certutil -t parses it: three CERTDB_*
// flag words (SSL, S/MIME, JAR/XPI).
type Trust struct {
	SSL, Email, ObjectSigning uint32
}

// CERTDB_* flags (nss lib/certdb/certdb.h).
const (
	flagTerminalRecord  = 1 << 0
	flagTrusted         = 1 << 1
	flagSendWarn        = 1 << 2
	flagValidCA         = 1 << 3
	flagTrustedCA       = 1 << 4
	flagNSTrustedCA     = 1 << 5
	flagUser            = 1 << 6
	flagTrustedClientCA = 1 << 7
	flagInvisibleCA     = 1 << 8
	flagGovtApprovedCA  = 1 << 9
)

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
				out[i] |= flagTerminalRecord
			case 'P':
				out[i] |= flagTrusted | flagTerminalRecord
			case 'w':
				out[i] |= flagSendWarn
			case 'c':
				out[i] |= flagValidCA
			case 'T':
				out[i] |= flagTrustedClientCA | flagValidCA
			case 'C':
				out[i] |= flagTrustedCA | flagValidCA
			case 'u':
				out[i] |= flagUser
			case 'i':
				out[i] |= flagInvisibleCA
			case 'g':
				out[i] |= flagGovtApprovedCA
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
		if f&flagTrustedClientCA != 0 {
			return levelTrustedDelegator
		}
	} else if f&(flagTrustedCA|flagNSTrustedCA) != 0 {
		return levelTrustedDelegator
	}
	switch {
	case f&flagTrusted != 0:
		return levelTrusted
	case f&flagTerminalRecord != 0:
		return levelNotTrusted
	case f&flagValidCA != 0:
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
