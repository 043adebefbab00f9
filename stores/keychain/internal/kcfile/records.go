package kcfile

import (
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
)

// Certificate is one record of the X.509 certificate table.
type Certificate struct {
	Offset    int    // of the record, from the start of the file
	DER       []byte // the record's data blob
	PrintName string // the 'labl' attribute, NUL terminators dropped
	// PublicKeyHash is the 'hpky' attribute as stored; nil when absent.
	PublicKeyHash []byte
}

// Certificates returns the records of the certificate table. A keychain
// without that table has no certificates: nil, nil. A record whose
// attributes cannot be read is reported and skipped.
func (f *File) Certificates() ([]Certificate, []error) {
	t := f.Table(TableX509Certificate)
	if t == nil {
		return nil, nil
	}
	var (
		out  []Certificate
		errs []error
	)
	for _, r := range t.Records {
		name, err1 := r.Value(AttrCertPrintName)
		hash, err2 := r.Value(AttrCertPublicKeyHash)
		if err := errors.Join(err1, err2); err != nil {
			errs = append(errs, fmt.Errorf("certificate record at offset %d: %w", r.Offset, err))
			continue
		}
		out = append(out, Certificate{Offset: r.Offset, DER: r.Data, PrintName: trimNUL(name), PublicKeyHash: hash})
	}
	return out, errs
}

// PrivateKeyLabels returns the Label attribute of every private key record.
// macOS sets it to the public-key hash of the key, the same value as the
// certificate's 'hpky', which is how it pairs the two into an identity.
// Only this plaintext attribute is read; the key blob stays untouched.
func (f *File) PrivateKeyLabels() ([][]byte, []error) {
	t := f.Table(TablePrivateKey)
	if t == nil {
		return nil, nil
	}
	var (
		out  [][]byte
		errs []error
	)
	for _, r := range t.Records {
		label, err := r.Value(AttrKeyLabel)
		if err != nil {
			errs = append(errs, fmt.Errorf("private key record at offset %d: %w", r.Offset, err))
			continue
		}
		if label != nil {
			out = append(out, label)
		}
	}
	return out, errs
}

// PublicKeyHash computes what macOS stores as a certificate's public-key hash
// ('hpky', kSecPublicKeyHashItemAttr): the SHA-1 of the contents of the
// subjectPublicKey BIT STRING (for RSA the PKCS#1 RSAPublicKey DER, for EC
// the point), not of the whole SubjectPublicKeyInfo.
func PublicKeyHash(c *x509.Certificate) ([]byte, error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	rest, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki)
	if err != nil {
		return nil, fmt.Errorf("parsing subject public key info: %w", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("trailing bytes after subject public key info")
	}
	h := sha1.Sum(spki.PublicKey.Bytes)
	return h[:], nil
}
