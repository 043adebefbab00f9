// Package testpki makes throw-away PKIs for the edge tests and benchmarks: a
// root, intermediates, client leaves (ECDSA P-256 unless asked otherwise) and
// CRLs, all in memory, with helpers to write them as PEM files.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// Authority is a CA certificate with its key.
type Authority struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Leaf is an issued certificate with its key.
type Leaf struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Options tune an issued certificate; zero values give sensible defaults.
type Options struct {
	Subject   pkix.Name
	NotBefore time.Time
	NotAfter  time.Time
	Serial    *big.Int
	EKU       []x509.ExtKeyUsage // default clientAuth
	DNSNames  []string
	IPs       []net.IP
	// Padding adds a non-critical extension of that many bytes, to make
	// oversized certificates.
	Padding int
	Key     crypto.Signer // default: a new P-256 key
	// OCSPServer and CRLDistributionPoints name where revocation data for
	// the certificate is published (AIA OCSP, CRL distribution points).
	OCSPServer            []string
	CRLDistributionPoints []string
}

var serialCounter = big.NewInt(0x1000)

func nextSerial() *big.Int {
	// Random high bits keep serials unique across runs; the counter keeps them
	// unique within one.
	r, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	serialCounter.Add(serialCounter, big.NewInt(1))
	return new(big.Int).Add(new(big.Int).Lsh(r, 16), serialCounter)
}

func newKey() crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err) // the system's randomness failed
	}
	return k
}

// NewRoot makes a self-signed root CA.
func NewRoot(cn string) (*Authority, error) {
	key := newKey()
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"certsight test"}, Country: []string{"US"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("creating root %s: %w", cn, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Authority{Cert: c, Key: key}, nil
}

// NewIntermediate makes a CA signed by a.
func (a *Authority) NewIntermediate(cn string) (*Authority, error) {
	return a.NewIntermediateWith(cn, Options{})
}

// NewIntermediateWith makes a CA signed by a; of o only OCSPServer and
// CRLDistributionPoints are used.
func (a *Authority) NewIntermediateWith(cn string, o Options) (*Authority, error) {
	key := newKey()
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"certsight test"}, Country: []string{"US"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(5 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		OCSPServer:            o.OCSPServer,
		CRLDistributionPoints: o.CRLDistributionPoints,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Cert, key.Public(), a.Key)
	if err != nil {
		return nil, fmt.Errorf("creating intermediate %s: %w", cn, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Authority{Cert: c, Key: key}, nil
}

// Issue makes an end-entity certificate signed by a.
func (a *Authority) Issue(o Options) (*Leaf, error) {
	key := o.Key
	if key == nil {
		key = newKey()
	}
	if o.Subject.CommonName == "" && len(o.Subject.Names) == 0 {
		o.Subject = pkix.Name{CommonName: "client", Organization: []string{"certsight test"}}
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	if o.Serial == nil {
		o.Serial = nextSerial()
	}
	if o.EKU == nil {
		o.EKU = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	tmpl := &x509.Certificate{
		SerialNumber: o.Serial,
		Subject:      o.Subject,
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  o.EKU,
		DNSNames:     o.DNSNames,
		IPAddresses:  o.IPs,
		SubjectKeyId: keyID(key),

		OCSPServer:            o.OCSPServer,
		CRLDistributionPoints: o.CRLDistributionPoints,
	}
	if o.Padding > 0 {
		tmpl.ExtraExtensions = []pkix.Extension{{
			Id:    []int{1, 3, 6, 1, 4, 1, 55555, 1}, // private arc, ignored by everyone
			Value: append([]byte{0x04, 0x82, byte(o.Padding >> 8), byte(o.Padding)}, make([]byte, o.Padding)...),
		}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Cert, key.Public(), a.Key)
	if err != nil {
		return nil, fmt.Errorf("issuing %s: %w", o.Subject.CommonName, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Leaf{Cert: c, Key: key}, nil
}

// keyID is a subject key identifier: SHA-1 of the encoded public key.
func keyID(k crypto.Signer) []byte {
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return nil
	}
	sum := sha1.Sum(der)
	return sum[:]
}

// SelfSigned makes a self-signed end-entity certificate (not a CA).
func SelfSigned(cn string) (*Leaf, error) {
	key := newKey()
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Leaf{Cert: c, Key: key}, nil
}

// CRL makes a DER CRL signed by a that revokes serials, valid from thisUpdate
// to nextUpdate.
func (a *Authority) CRL(serials []*big.Int, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	tmpl := &x509.RevocationList{
		Number:     nextSerial(),
		ThisUpdate: thisUpdate,
		NextUpdate: nextUpdate,
	}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: s, RevocationTime: thisUpdate})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, a.Cert, a.Key)
	if err != nil {
		return nil, fmt.Errorf("creating CRL: %w", err)
	}
	return der, nil
}

// CurrentCRL is CRL valid from an hour ago for a day.
func (a *Authority) CurrentCRL(serials ...*big.Int) ([]byte, error) {
	return a.CRL(serials, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

// CertPEM encodes certificates as PEM.
func CertPEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// KeyPEM encodes a private key as PKCS#8 PEM.
func KeyPEM(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// CRLPEM encodes a DER CRL as PEM.
func CRLPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

// WriteFile writes data to path with mode 0600.
func WriteFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// ServerCert issues a TLS server certificate for 127.0.0.1 and localhost.
func (a *Authority) ServerCert() (*Leaf, error) {
	return a.Issue(Options{
		Subject:  pkix.Name{CommonName: "localhost"},
		EKU:      []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost", "*.example.com"},
		IPs:      []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	})
}
