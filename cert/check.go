package cert

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"reflect"
)

// KeyMatches reports whether key belongs to c. key may be a private key
// (*rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey), a public key, or
// a [Key] from Parse. An encrypted Key never matches: it cannot be checked.
func KeyMatches(c *x509.Certificate, key any) bool {
	if c == nil || key == nil {
		return false
	}
	if isNilPointer(key) {
		return false
	}
	var pub crypto.PublicKey
	switch k := key.(type) {
	case Key:
		pub = k.Public
	case *Key:
		pub = k.Public
	case interface{ Public() crypto.PublicKey }:
		pub = k.Public()
	default:
		pub = key
	}
	if pub == nil || isNilPointer(pub) {
		return false
	}
	eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(c.PublicKey)
}

// IssuedBy reports whether leaf's signature verifies with issuer's public key.
// Names are not compared: a look-alike issuer with the same name and another
// key fails, and so does any certificate further up a chain. Signatures over
// MD5 or SHA-1 never count: they can be forged by collision.
func IssuedBy(leaf, issuer *x509.Certificate) bool {
	if leaf == nil || issuer == nil || weakSignature(leaf.SignatureAlgorithm) {
		return false
	}
	// CheckSignature, not CheckSignatureFrom: the latter also demands that
	// the issuer be a CA, which is a policy question, not a signature one.
	return issuer.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature) == nil
}

// isNilPointer catches typed nil keys such as (*rsa.PrivateKey)(nil), whose
// methods would panic.
func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// selfSigned reports whether c is self-issued and its own key verifies its
// signature. Unlike IssuedBy it accepts SHA-1 signatures: whether an old
// certificate signed itself is a fact about it, not a trust decision. (MD5 is
// never verified.) subject and issuer are c's names as NewInfo prints them.
func selfSigned(c *x509.Certificate, subject, issuer string) bool {
	// Only a self-issued certificate (issuer = subject, RFC 5280 §3.2; as
	// OpenSSL and osquery also require) can be self-signed. Checking the
	// names first spares every leaf a public-key operation, which otherwise
	// dominates reading a store of thousands of certificates. The printed
	// names also equate the same text in different string types.
	if !bytes.Equal(c.RawIssuer, c.RawSubject) && issuer != subject {
		return false
	}
	return c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// weakSignature reports signature algorithms whose hash admits collisions.
func weakSignature(alg x509.SignatureAlgorithm) bool {
	switch alg {
	case x509.MD2WithRSA, x509.MD5WithRSA, x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1:
		return true
	}
	return false
}
