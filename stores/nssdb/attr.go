package nssdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Attribute value encoding in the SQL databases (nss lib/softoken/sdb.c and
// sftkdb.c): every value is a BLOB; CK_ULONGs are 4 bytes big-endian; the
// 3-byte marker a5 00 5a is an explicitly empty value, SQL NULL an absent one.

// explicitNull is SQLITE_EXPLICIT_NULL, NSS's marker for a present but empty value.
var explicitNull = []byte{0xa5, 0x00, 0x5a}

// Object classes (CKA_CLASS values) the reader looks at.
const (
	classCertificate = 0x00000001 // CKO_CERTIFICATE
	classPrivateKey  = 0x00000003 // CKO_PRIVATE_KEY
	classTrust       = 0x0000000b // CKO_TRUST, PKCS#11 3.2 (NSS ≥ 3.114)
	classNSSTrust    = 0xce534353 // CKO_NSS_TRUST = CKO_NSS + 3
)

// certTypeX509 is CKC_X_509, the CKA_CERTIFICATE_TYPE of an X.509 certificate.
const certTypeX509 = 0

// Column names: "a" + lowercase hex of the attribute type (sdb.c "a%x").
const (
	colClass    = "a0"
	colLabel    = "a3"
	colValue    = "a11"
	colCertType = "a80"
	colIssuer   = "a81"
	colSerial   = "a82"
	colID       = "a102"

	// CKO_NSS_TRUST attributes, CKA_NSS_TRUST_BASE (0xce536350) + n.
	colNSSServerAuth  = "ace536358"
	colNSSClientAuth  = "ace536359"
	colNSSCodeSigning = "ace53635a"
	colNSSEmail       = "ace53635b"
	colNSSStepUp      = "ace536360"

	// CKO_TRUST attributes (PKCS#11 3.2).
	colServerAuth  = "a62c"
	colClientAuth  = "a62d"
	colCodeSigning = "a62e"
	colEmail       = "a62f"
)

// blob returns v with NSS's explicit-empty marker turned into nil.
func blob(v []byte) []byte {
	if bytes.Equal(v, explicitNull) {
		return nil
	}
	return v
}

// decodeULong decodes a stored CK_ULONG. absent reports a NULL or explicitly
// empty value, which callers treat as "not set".
func decodeULong(v []byte) (n uint32, absent bool, err error) {
	v = blob(v)
	if len(v) == 0 {
		return 0, true, nil
	}
	if len(v) != 4 {
		return 0, false, fmt.Errorf("CK_ULONG is %d bytes, want 4", len(v))
	}
	return binary.BigEndian.Uint32(v), false, nil
}

// decodeBool decodes a stored CK_BBOOL (one byte; absent is false).
func decodeBool(v []byte) (bool, error) {
	v = blob(v)
	switch {
	case len(v) == 0:
		return false, nil
	case len(v) == 1:
		return v[0] != 0, nil
	}
	return false, fmt.Errorf("CK_BBOOL is %d bytes, want 1", len(v))
}

// ulongBytes encodes n as NSS stores a CK_ULONG.
func ulongBytes(n uint32) []byte {
	return binary.BigEndian.AppendUint32(nil, n)
}
