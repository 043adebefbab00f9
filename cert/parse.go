package cert

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Key formats as reported in [Key.Format].
const (
	FormatPKCS1 = "PKCS#1"
	FormatPKCS8 = "PKCS#8"
	FormatSEC1  = "SEC1"
)

// ErrNoContent is returned by Parse when the input holds neither a certificate
// nor a private key in any supported encoding.
var ErrNoContent = errors.New("no certificate or private key found")

// Key is what certsight keeps of a private key: its public half and how it was
// stored. The private bytes are never kept.
type Key struct {
	// Public is the key's public half; nil when Encrypted.
	Public crypto.PublicKey
	// Encrypted reports a key that is present but locked by a password
	// (PKCS#8 "ENCRYPTED PRIVATE KEY" or a legacy "Proc-Type: 4,ENCRYPTED"
	// block). Passwords are never guessed, so nothing else is known about it.
	Encrypted bool
	// Format is FormatPKCS1, FormatPKCS8 or FormatSEC1; empty when Encrypted.
	Format string
}

// Bundle is everything found in one input, in input order.
type Bundle struct {
	Certificates []*x509.Certificate
	Keys         []Key
	// Problems lists blocks that were recognised but could not be parsed.
	// They never hide the blocks that did parse.
	Problems []error
}

// Parse reads PEM (any number of blocks, text around them, CRLF line ends and
// trailing spaces tolerated) or DER (one or more concatenated certificates, or
// one private key). It returns ErrNoContent when nothing usable is found.
func Parse(data []byte) (*Bundle, error) {
	b := &Bundle{}
	if containsPEM(data) {
		parsePEM(data, b)
	}
	if len(b.Certificates) == 0 && len(b.Keys) == 0 {
		// DER may contain "-----BEGIN " (in a name, say) and then look like
		// a broken PEM file; what parses as DER wins over such problems.
		der := &Bundle{}
		parseDER(data, der)
		if len(der.Certificates) > 0 || len(der.Keys) > 0 {
			b = der
		}
	}
	if len(b.Certificates) == 0 && len(b.Keys) == 0 {
		if len(b.Problems) > 0 {
			return b, fmt.Errorf("parsing: %w", errors.Join(b.Problems...))
		}
		return b, ErrNoContent
	}
	return b, nil
}

// ParseCertificates returns only the certificates of data (see Parse).
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	b, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if len(b.Certificates) == 0 {
		return nil, errors.New("no certificate found")
	}
	return b.Certificates, nil
}

func containsPEM(data []byte) bool {
	return bytes.Contains(data, pemBegin)
}

var pemBegin = []byte("-----BEGIN ")

// parsePEM reads every block of data. It hands pem.Decode one block at a time
// (from one BEGIN line to the next) because pem.Decode silently skips a block
// it cannot decode, and a broken certificate or key must become a Problem.
func parsePEM(data []byte, b *Bundle) {
	rest := data
	for {
		i := bytes.Index(rest, pemBegin)
		if i < 0 {
			return
		}
		rest = rest[i:]
		seg := rest
		if j := bytes.Index(rest[len(pemBegin):], pemBegin); j >= 0 {
			seg = rest[:len(pemBegin)+j]
		}
		rest = rest[len(seg):]
		block, _ := pem.Decode(seg)
		if block == nil {
			if typ := pemType(seg); isOurs(typ) {
				b.Problems = append(b.Problems, fmt.Errorf("%s block: malformed PEM", typ))
			}
			continue
		}
		parseBlock(block, b)
	}
}

// PEMTypes lists the type named on each PEM BEGIN line of data, in order
// ("" for a BEGIN line that cannot be read). Callers that accept only some
// block types check them here before Parse, which skips blocks it does not
// know.
func PEMTypes(data []byte) []string {
	var types []string
	for rest := data; ; {
		i := bytes.Index(rest, pemBegin)
		if i < 0 {
			return types
		}
		rest = rest[i:]
		types = append(types, pemType(rest))
		rest = rest[len(pemBegin):]
	}
}

// pemType returns the type named on a BEGIN line ("" when it is unreadable).
func pemType(seg []byte) string {
	line, _, _ := bytes.Cut(seg[len(pemBegin):], []byte("\n"))
	typ, ok := bytes.CutSuffix(bytes.TrimRight(line, " \t\r"), []byte("-----"))
	if !ok || len(typ) > 64 {
		return ""
	}
	return string(typ)
}

func isOurs(typ string) bool {
	switch typ {
	case "CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE",
		"ENCRYPTED PRIVATE KEY", "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
		return true
	}
	return false
}

func parseBlock(block *pem.Block, b *Bundle) {
	switch block.Type {
	case "CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE":
		c, err := parseCertDER(block.Bytes, block.Type == "TRUSTED CERTIFICATE")
		if err != nil {
			b.Problems = append(b.Problems, fmt.Errorf("%s block: %w", block.Type, err))
			return
		}
		b.Certificates = append(b.Certificates, c)
	case "ENCRYPTED PRIVATE KEY":
		b.Keys = append(b.Keys, Key{Encrypted: true})
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
		if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			b.Keys = append(b.Keys, Key{Encrypted: true})
			return
		}
		k, err := parseKeyDER(block.Bytes, block.Type)
		if err != nil {
			b.Problems = append(b.Problems, fmt.Errorf("%s block: %w", block.Type, err))
			return
		}
		b.Keys = append(b.Keys, k)
	}
	// Other blocks (parameters, CSRs, CRLs) are not ours to judge.
}

// parseCertDER parses one DER certificate. OpenSSL's "TRUSTED CERTIFICATE"
// appends trust settings after the certificate; only the certificate is read.
func parseCertDER(der []byte, trusted bool) (*x509.Certificate, error) {
	if trusted {
		if n := derLength(der); n > 0 && n < len(der) {
			der = der[:n]
		}
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	return c, nil
}

// derLength returns the length of the first DER TLV in b, or 0 when b does not
// start with a well-formed definite-length header.
func derLength(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	l := int(b[1])
	hdr := 2
	if l&0x80 != 0 {
		n := l & 0x7f
		if n == 0 || n > 4 || len(b) < 2+n {
			return 0
		}
		l = 0
		for _, x := range b[2 : 2+n] {
			l = l<<8 | int(x)
		}
		hdr += n
	}
	if l < 0 || hdr+l > len(b) {
		return 0
	}
	return hdr + l
}

func parseDER(data []byte, b *Bundle) {
	if len(data) == 0 || data[0] != 0x30 {
		return
	}
	if certs, err := x509.ParseCertificates(data); err == nil && len(certs) > 0 {
		b.Certificates = append(b.Certificates, certs...)
		return
	}
	if k, err := parseKeyDER(data, ""); err == nil {
		b.Keys = append(b.Keys, k)
		return
	}
	if isEncryptedPKCS8(data) {
		b.Keys = append(b.Keys, Key{Encrypted: true})
	}
}

// parseKeyDER parses a private key in any of the three formats, preferring the
// one its PEM type names, and returns only its public half.
func parseKeyDER(der []byte, pemType string) (Key, error) {
	order := []string{FormatPKCS8, FormatPKCS1, FormatSEC1}
	switch pemType {
	case "RSA PRIVATE KEY":
		order = []string{FormatPKCS1, FormatPKCS8, FormatSEC1}
	case "EC PRIVATE KEY":
		order = []string{FormatSEC1, FormatPKCS8, FormatPKCS1}
	}
	var firstErr error
	for _, f := range order {
		var priv any
		var err error
		switch f {
		case FormatPKCS8:
			priv, err = x509.ParsePKCS8PrivateKey(der)
		case FormatPKCS1:
			priv, err = x509.ParsePKCS1PrivateKey(der)
		case FormatSEC1:
			priv, err = x509.ParseECPrivateKey(der)
		}
		if err == nil {
			pub := publicOf(priv)
			if pub == nil {
				return Key{}, fmt.Errorf("unsupported private key type %T", priv)
			}
			return Key{Public: pub, Format: f}, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return Key{}, fmt.Errorf("private key: %w", firstErr)
}

// isEncryptedPKCS8 recognises DER EncryptedPrivateKeyInfo by shape:
// SEQUENCE { SEQUENCE AlgorithmIdentifier, OCTET STRING }.
func isEncryptedPKCS8(der []byte) bool {
	n := derLength(der)
	if n == 0 || n != len(der) || der[0] != 0x30 {
		return false
	}
	body := der[n-contentLength(der):]
	m := derLength(body)
	if m == 0 || body[0] != 0x30 || m >= len(body) {
		return false
	}
	rest := body[m:]
	return rest[0] == 0x04 && derLength(rest) == len(rest)
}

func contentLength(b []byte) int {
	l := int(b[1])
	if l&0x80 == 0 {
		return l
	}
	return derLength(b) - 2 - (l & 0x7f)
}

// publicOf returns the public half of a private key; nil for unknown types.
func publicOf(priv any) crypto.PublicKey {
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		return &k.PublicKey
	case *ecdsa.PrivateKey:
		return &k.PublicKey
	case ed25519.PrivateKey:
		return k.Public()
	case *ecdh.PrivateKey:
		return k.PublicKey()
	}
	return nil
}
