// Package testpki is the one certificate issuer of the tests, benchmarks and
// the demo: roots, intermediates, client and server leaves (ECDSA P-256
// unless a key is given) and CRLs, all in memory, with helpers to write them
// as PEM files. It uses crypto/x509 only, so no external tool is needed.
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
	"path/filepath"
	"sync/atomic"
	"time"
)

// Cert is a certificate with its private key; a CA's Cert issues others.
type Cert struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Authority and Leaf are Cert under the names of the two roles, for callers
// that want the role in their types.
type (
	Authority = Cert
	Leaf      = Cert
)

// Options tune an issued certificate; zero values give sensible defaults.
type Options struct {
	// Subject defaults to CN=client,O=certsight test.
	Subject pkix.Name
	// NotBefore defaults to an hour ago, NotAfter to a year after NotBefore
	// (ten years for a CA).
	NotBefore time.Time
	NotAfter  time.Time
	// Serial defaults to a fresh random serial.
	Serial *big.Int
	// IsCA makes a CA (basicConstraints CA:TRUE).
	IsCA bool
	// KeyUsage defaults to digitalSignature, plus keyCertSign and cRLSign
	// for a CA.
	KeyUsage x509.KeyUsage
	// EKU defaults to clientAuth for a leaf and none for a CA; a non-nil
	// empty slice gives a leaf none.
	EKU      []x509.ExtKeyUsage
	DNSNames []string
	IPs      []net.IP
	Emails   []string
	// Padding adds a non-critical extension of that many bytes, to make
	// oversized certificates.
	Padding int
	// Key is the key to certify (default: a new P-256 key). Reusing one key
	// makes thousands of certificates cheap.
	Key crypto.Signer
	// OCSPServer and CRLDistributionPoints name where revocation data for
	// the certificate is published (AIA OCSP, CRL distribution points).
	OCSPServer            []string
	CRLDistributionPoints []string
}

var serialCounter atomic.Int64

func nextSerial() *big.Int {
	// Random high bits keep serials unique across runs; the counter keeps them
	// unique within one.
	r, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	return new(big.Int).Add(new(big.Int).Lsh(r, 16), big.NewInt(0x1000+serialCounter.Add(1)))
}

// NewKey returns a new P-256 key.
func NewKey() crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err) // the system's randomness failed
	}
	return k
}

// Issue makes a certificate as o says, signed by parent, or self-signed when
// parent is nil.
func Issue(parent *Cert, o Options) (*Cert, error) {
	key := o.Key
	if key == nil {
		key = NewKey()
	}
	if o.Subject.CommonName == "" && len(o.Subject.Names) == 0 && len(o.Subject.Organization) == 0 {
		o.Subject = pkix.Name{CommonName: "client", Organization: []string{"certsight test"}}
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour).Truncate(time.Second)
	}
	if o.NotAfter.IsZero() {
		life := 365 * 24 * time.Hour
		if o.IsCA {
			life *= 10
		}
		o.NotAfter = o.NotBefore.Add(life)
	}
	if o.Serial == nil {
		o.Serial = nextSerial()
	}
	if o.KeyUsage == 0 {
		o.KeyUsage = x509.KeyUsageDigitalSignature
		if o.IsCA {
			o.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		}
	}
	if o.EKU == nil && !o.IsCA {
		o.EKU = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          o.Serial,
		Subject:               o.Subject,
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		KeyUsage:              o.KeyUsage,
		ExtKeyUsage:           o.EKU,
		DNSNames:              o.DNSNames,
		IPAddresses:           o.IPs,
		EmailAddresses:        o.Emails,
		BasicConstraintsValid: true,
		IsCA:                  o.IsCA,
		SubjectKeyId:          keyID(key),
		OCSPServer:            o.OCSPServer,
		CRLDistributionPoints: o.CRLDistributionPoints,
	}
	if o.Padding > 0 {
		tmpl.ExtraExtensions = []pkix.Extension{{
			Id:    []int{1, 3, 6, 1, 4, 1, 55555, 1}, // private arc, ignored by everyone
			Value: append([]byte{0x04, 0x82, byte(o.Padding >> 8), byte(o.Padding)}, make([]byte, o.Padding)...),
		}}
	}
	parentCert, signer := tmpl, key
	if parent != nil {
		parentCert, signer = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("issuing %s: %w", o.Subject.CommonName, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", o.Subject.CommonName, err)
	}
	return &Cert{Cert: c, Key: key}, nil
}

// Issue makes a certificate signed by a.
func (a *Cert) Issue(o Options) (*Cert, error) { return Issue(a, o) }

// caName is the subject of the CAs NewRoot and NewIntermediate make.
func caName(cn string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{"certsight test"}, Country: []string{"US"}}
}

// NewRoot makes a self-signed root CA named CN=cn,O=certsight test,C=US.
func NewRoot(cn string) (*Cert, error) {
	return Issue(nil, Options{Subject: caName(cn), IsCA: true})
}

// NewIntermediate makes a CA signed by a.
func (a *Cert) NewIntermediate(cn string) (*Cert, error) {
	return Issue(a, Options{Subject: caName(cn), IsCA: true, NotAfter: time.Now().Add(5 * 365 * 24 * time.Hour)})
}

// NewIntermediateWith makes a CA signed by a; of o only OCSPServer and
// CRLDistributionPoints are used.
func (a *Cert) NewIntermediateWith(cn string, o Options) (*Cert, error) {
	return Issue(a, Options{Subject: caName(cn), IsCA: true, NotAfter: time.Now().Add(5 * 365 * 24 * time.Hour),
		OCSPServer: o.OCSPServer, CRLDistributionPoints: o.CRLDistributionPoints})
}

// SelfSigned makes a self-signed client certificate (not a CA) valid for a day.
func SelfSigned(cn string) (*Cert, error) {
	return Issue(nil, Options{Subject: pkix.Name{CommonName: cn}, NotAfter: time.Now().Add(24 * time.Hour)})
}

// ServerCert issues a TLS server certificate for 127.0.0.1, ::1, localhost
// and *.example.com.
func (a *Cert) ServerCert() (*Cert, error) {
	return a.Issue(Options{
		Subject:  pkix.Name{CommonName: "localhost"},
		EKU:      []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost", "*.example.com"},
		IPs:      []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	})
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

// CRL makes a DER CRL signed by a that revokes serials, valid from thisUpdate
// to nextUpdate.
func (a *Cert) CRL(serials []*big.Int, thisUpdate, nextUpdate time.Time) ([]byte, error) {
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
func (a *Cert) CurrentCRL(serials ...*big.Int) ([]byte, error) {
	return a.CRL(serials, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

// CertPEM returns c's certificate as PEM.
func (c *Cert) CertPEM() []byte { return CertPEM(c.Cert) }

// KeyPEM returns c's private key as PKCS #8 PEM.
func (c *Cert) KeyPEM() ([]byte, error) { return KeyPEM(c.Key) }

// WriteCert writes the certificate alone to dir/name and returns the path.
func (c *Cert) WriteCert(dir, name string) (string, error) {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, c.CertPEM(), 0o644); err != nil {
		return "", fmt.Errorf("writing %s: %w", p, err)
	}
	return p, nil
}

// WritePair writes the certificate to dir/name.crt and its key to
// dir/name.key, and returns both paths.
func (c *Cert) WritePair(dir, name string) (certPath, keyPath string, err error) {
	certPath, err = c.WriteCert(dir, name+".crt")
	if err != nil {
		return "", "", err
	}
	k, err := c.KeyPEM()
	if err != nil {
		return "", "", err
	}
	keyPath = filepath.Join(dir, name+".key")
	if err := WriteFile(keyPath, k); err != nil {
		return "", "", err
	}
	return certPath, keyPath, nil
}

// WriteMany writes n certificates issued by ca, one PEM file each, into dir,
// all certifying one shared key so that it stays fast. Serial numbers start
// at firstSerial; common names are "<prefix>-<serial>".
func WriteMany(ca *Cert, dir, prefix string, n int, firstSerial int64) error {
	key := NewKey()
	for i := range n {
		serial := firstSerial + int64(i)
		c, err := Issue(ca, Options{
			Subject: pkix.Name{CommonName: fmt.Sprintf("%s-%d", prefix, serial)},
			Serial:  big.NewInt(serial),
			Key:     key,
		})
		if err != nil {
			return err
		}
		if _, err := c.WriteCert(dir, fmt.Sprintf("%s-%06d.pem", prefix, serial)); err != nil {
			return err
		}
	}
	return nil
}

// CertPEM encodes certificates as PEM.
func CertPEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// KeyPEM encodes a private key as PKCS #8 PEM.
func KeyPEM(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encoding key: %w", err)
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
