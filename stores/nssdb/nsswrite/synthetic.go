package nsswrite

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"
)

// syntheticTrusts cycles through trust strings seen in real databases.
var syntheticTrusts = []string{",,", "P,,", "", "C,,", "u,u,u", "p,p,p", ",C,", "CT,C,C", "T,,", ",,P"}

// Synthetic returns n+1 certificates for demos and benchmarks: an EC root
// CA (trust "CT,C,C", with key) and n client certificates it issued, named
// "client-00000"…, mixing RSA-2048 (every fourth, from a pool of four keys,
// as renewed certificates share keys) and P-256 keys, with a key for every
// third certificate (its private half encrypted under the empty password,
// as certutil writes it) and trust strings cycling through common values.
func Synthetic(n int) ([]Cert, error) {
	now := time.Now().UTC().Truncate(time.Second)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "certsight synthetic root CA", Organization: []string{"certsight"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	out := make([]Cert, 0, n+1)
	out = append(out, Cert{Nickname: "certsight synthetic root CA", DER: caDER, Trust: "CT,C,C", WithKey: true, Key: caKey})

	var rsaPool []*rsa.PrivateKey
	for i := 0; i < min(4, (n+3)/4); i++ {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		rsaPool = append(rsaPool, k)
	}
	for i := range n {
		var pub crypto.PublicKey
		var priv any
		if i%4 == 0 {
			k := rsaPool[(i/4)%len(rsaPool)]
			pub, priv = &k.PublicKey, k
		} else {
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				return nil, err
			}
			pub, priv = &k.PublicKey, k
		}
		name := fmt.Sprintf("client-%05d", i)
		tmpl := &x509.Certificate{
			SerialNumber:   big.NewInt(int64(1000 + i)),
			Subject:        pkix.Name{CommonName: name, Organization: []string{"certsight synthetic"}},
			NotBefore:      now.Add(-time.Hour),
			NotAfter:       now.AddDate(1, 0, 0),
			KeyUsage:       x509.KeyUsageDigitalSignature,
			ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
			EmailAddresses: []string{name + "@example.com"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
		if err != nil {
			return nil, err
		}
		out = append(out, Cert{Nickname: name, DER: der, Trust: syntheticTrusts[i%len(syntheticTrusts)], WithKey: i%3 == 0, Key: priv})
	}
	return out, nil
}
