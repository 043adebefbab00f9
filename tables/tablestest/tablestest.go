// Package tablestest makes what table tests, end-to-end tests and the demo
// need without external tools: certificates and keys written as PEM files
// (crypto/x509 only), and a fake tables.Scanner that records its calls.
package tablestest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/certsight/certsight/stores"
)

// Cert is a certificate with its private key.
type Cert struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Spec describes a certificate to issue. Zero values get sensible defaults:
// valid from an hour ago for a year, a fresh P-256 key.
type Spec struct {
	CommonName   string
	Organization string
	Serial       int64
	IsCA         bool
	ExtKeyUsage  []x509.ExtKeyUsage
	DNSNames     []string
	Emails       []string
	NotBefore    time.Time
	NotAfter     time.Time
	// Key is the key to certify; nil makes a new P-256 key. Reusing one key
	// makes thousands of certificates cheap.
	Key crypto.Signer
}

// NewCA returns a self-signed CA.
func NewCA(cn string) (*Cert, error) {
	return Issue(nil, Spec{CommonName: cn, Organization: "certsight test", IsCA: true, Serial: 1})
}

// Issue signs spec with ca, or self-signs it when ca is nil.
func Issue(ca *Cert, spec Spec) (*Cert, error) {
	key := spec.Key
	if key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating key: %w", err)
		}
		key = k
	}
	if spec.NotBefore.IsZero() {
		spec.NotBefore = time.Now().Add(-time.Hour).Truncate(time.Second)
	}
	if spec.NotAfter.IsZero() {
		spec.NotAfter = spec.NotBefore.Add(365 * 24 * time.Hour)
	}
	serial := big.NewInt(spec.Serial)
	if spec.Serial == 0 {
		s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
		if err != nil {
			return nil, fmt.Errorf("making serial: %w", err)
		}
		serial = s.Add(s, big.NewInt(1))
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: spec.CommonName},
		NotBefore:             spec.NotBefore,
		NotAfter:              spec.NotAfter,
		ExtKeyUsage:           spec.ExtKeyUsage,
		DNSNames:              spec.DNSNames,
		EmailAddresses:        spec.Emails,
		BasicConstraintsValid: true,
		IsCA:                  spec.IsCA,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	if spec.Organization != "" {
		tmpl.Subject.Organization = []string{spec.Organization}
	}
	if spec.IsCA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.Cert, ca.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("creating certificate %q: %w", spec.CommonName, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing certificate %q: %w", spec.CommonName, err)
	}
	return &Cert{Cert: c, Key: key}, nil
}

// CertPEM returns the certificate as PEM.
func (c *Cert) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// KeyPEM returns the private key as PKCS #8 PEM.
func (c *Cert) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		return nil, fmt.Errorf("marshaling key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

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
	if err := os.WriteFile(keyPath, k, 0o600); err != nil {
		return "", "", fmt.Errorf("writing %s: %w", keyPath, err)
	}
	return certPath, keyPath, nil
}

// WriteMany writes n certificates issued by ca, one PEM file each, into dir,
// all certifying one shared key so that it stays fast. Serial numbers start
// at firstSerial; common names are "<prefix>-<serial>".
func WriteMany(ca *Cert, dir, prefix string, n int, firstSerial int64) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating key: %w", err)
	}
	for i := range n {
		serial := firstSerial + int64(i)
		c, err := Issue(ca, Spec{
			CommonName:  fmt.Sprintf("%s-%d", prefix, serial),
			Serial:      serial,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
			Key:         key,
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

// Call is one call a FakeScanner received.
type Call struct {
	Method   string // "Paths", "Defaults" or "DefaultsAt"
	Paths    []string
	Location stores.Location
	Kinds    []stores.Kind
}

// FakeScanner is a tables.Scanner that records its calls and answers
// with Respond (an empty result when Respond is nil), handing the answer's
// entries over one at a time, then its errors.
type FakeScanner struct {
	Respond func(ctx context.Context, c Call) stores.Result

	mu    sync.Mutex
	calls []Call
}

// Calls returns the calls received so far.
func (f *FakeScanner) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

func (f *FakeScanner) answer(ctx context.Context, c Call) stores.Result {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	if f.Respond == nil {
		return stores.Result{}
	}
	return f.Respond(ctx, c)
}

// Paths records the call and answers it.
func (f *FakeScanner) Paths(ctx context.Context, paths []string, kinds ...stores.Kind) stores.Seq {
	return f.seq(ctx, Call{Method: "Paths", Paths: paths, Kinds: kinds})
}

// Defaults records the call and answers it.
func (f *FakeScanner) Defaults(ctx context.Context, kinds ...stores.Kind) stores.Seq {
	return f.seq(ctx, Call{Method: "Defaults", Kinds: kinds})
}

// DefaultsAt records the call and answers it.
func (f *FakeScanner) DefaultsAt(ctx context.Context, loc stores.Location, kinds ...stores.Kind) stores.Seq {
	return f.seq(ctx, Call{Method: "DefaultsAt", Location: loc, Kinds: kinds})
}

// seq records the call when the read starts, as a real scanner reads then.
func (f *FakeScanner) seq(ctx context.Context, c Call) stores.Seq {
	return func(yield func(stores.Entry, error) bool) {
		res := f.answer(ctx, c)
		for _, e := range res.Entries {
			if !yield(e, nil) {
				return
			}
		}
		for _, err := range res.Errors {
			if !yield(stores.Entry{}, err) {
				return
			}
		}
	}
}
