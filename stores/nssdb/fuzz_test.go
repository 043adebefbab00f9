package nssdb

import (
	"bytes"
	"encoding/asn1"
	"encoding/binary"
	"math/big"
	"regexp"
	"testing"
)

var trustPattern = regexp.MustCompile(`^c?p?C?T?P?u?w?I?G?,c?p?C?T?P?u?w?I?G?,c?p?C?T?P?u?w?I?G?$`)

// FuzzDecodeTrust feeds arbitrary attribute bytes to the trust object
// decoder and the trust printer: never a panic, and any decoded object
// prints as a well-formed certutil trust string.
func FuzzDecodeTrust(f *testing.F) {
	f.Add(ulongBytes(classNSSTrust), []byte("issuer"), []byte{2, 1, 1}, []byte{0},
		ulongBytes(cktNSSTrustedDelegator), ulongBytes(cktNSSValidDelegator), ulongBytes(cktNSSMustVerify), ulongBytes(cktNSSTrusted))
	f.Add(ulongBytes(classTrust), []byte("issuer"), []byte{2, 1, 1}, explicitNull,
		ulongBytes(cktTrustAnchor), ulongBytes(cktMustVerify), ulongBytes(cktUnknown), ulongBytes(cktNotTrusted))
	f.Add(ulongBytes(classNSSTrust), explicitNull, []byte{}, []byte{1, 2},
		[]byte{0xce, 0x53, 0x43}, []byte(nil), explicitNull, ulongBytes(cktNSSTrustUnknown))
	f.Fuzz(func(t *testing.T, class, issuer, serial, stepUp, v0, v1, v2, v3 []byte) {
		k, obj, err := decodeTrust(rawTrust{class: class, issuer: issuer, serial: serial, stepUp: stepUp, values: [4][]byte{v0, v1, v2, v3}})
		if err != nil {
			return
		}
		if k.issuer == "" || k.serial == "" {
			t.Fatalf("decoded a trust object without issuer or serial: %+v", k)
		}
		if c := binary.BigEndian.Uint32(class); c != obj.class {
			t.Fatalf("class %#x decoded as %#x", c, obj.class)
		}
		for _, hasKey := range []bool{false, true} {
			s := trustString(&obj, hasKey)
			if !trustPattern.MatchString(s) {
				t.Fatalf("trust string %q is not what certutil prints", s)
			}
			if hasKey != (bytes.Count([]byte(s), []byte("u")) == 3) {
				t.Fatalf("trust string %q: u must be in every field exactly when a key is present", s)
			}
		}
	})
}

// FuzzDecodeCertRow feeds arbitrary row values to the certificate row
// decoder: never a panic; a decoded certificate has the serial number NSS
// would store for it, read back from the certificate's own bytes.
//
// The committed seeds (testdata/fuzz/FuzzDecodeCertRow/fixture-*) are the
// certificate rows of testdata/basic, as certutil and pk12util wrote them.
func FuzzDecodeCertRow(f *testing.F) {
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01}, explicitNull, []byte{0, 0}, []byte(nil), []byte(nil), explicitNull)
	f.Fuzz(func(t *testing.T, der, label, certType, issuer, serial, ckaID []byte) {
		d, skip, err := decodeCertRow(certRow{der: der, label: label, certType: certType, issuer: issuer, serial: serial, ckaID: ckaID})
		if err != nil || skip {
			return
		}
		if d.cert == nil || d.key.issuer == "" {
			t.Fatalf("decoded row without certificate or issuer: %+v", d)
		}
		s := serialDER(d.cert)
		if s == nil {
			t.Fatalf("no serial found in a certificate Go parsed")
		}
		var n *big.Int
		if rest, err := asn1.Unmarshal(s, &n); err != nil || len(rest) != 0 || n.Cmp(d.cert.SerialNumber) != 0 {
			t.Fatalf("serial %x does not decode to %v: %v", s, d.cert.SerialNumber, err)
		}
	})
}

// FuzzDecodeULong checks the CK_ULONG / CK_BBOOL decoders.
func FuzzDecodeULong(f *testing.F) {
	f.Add([]byte{0xce, 0x53, 0x43, 0x53})
	f.Add(explicitNull)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, absent, err := decodeULong(b)
		switch {
		case err != nil:
			if len(b) == 4 {
				t.Fatalf("4 bytes rejected: %v", err)
			}
		case absent:
			if len(blob(b)) != 0 {
				t.Fatalf("%x reported absent", b)
			}
		default:
			if len(b) != 4 || n != binary.BigEndian.Uint32(b) || !bytes.Equal(ulongBytes(n), b) {
				t.Fatalf("%x decoded as %#x", b, n)
			}
		}
		v, err := decodeBool(b)
		if err == nil && len(blob(b)) == 1 && v != (b[0] != 0) {
			t.Fatalf("%x decoded as %v", b, v)
		}
	})
}
