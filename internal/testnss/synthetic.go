package testnss

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	"github.com/certsight/certsight/internal/testpki"
)

// syntheticTrusts cycles through trust strings seen in real databases.
var syntheticTrusts = []string{",,", "P,,", "", "C,,", "u,u,u", "p,p,p", ",C,", "CT,C,C", "T,,", ",,P"}

// Synthetic returns n+1 certificates for demos and benchmarks: an EC root
// CA (trust "CT,C,C", with key) and n client certificates it issued, named
// "client-00000"…, mixing RSA-2048 (every fourth, from a pool of four keys,
// as renewed certificates share keys) and P-256 keys, with a key for every
// third certificate (written with Options.KeyMaterial, its private half is
// encrypted under the empty password, as certutil writes it) and trust
// strings cycling through common values.
func Synthetic(n int) ([]Cert, error) {
	now := time.Now().UTC().Truncate(time.Second)
	ca, err := testpki.Issue(nil, testpki.Options{
		Subject:   pkix.Name{CommonName: "certsight synthetic root CA", Organization: []string{"certsight"}},
		Serial:    big.NewInt(1),
		IsCA:      true,
		KeyUsage:  x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		NotBefore: now.Add(-time.Hour),
		NotAfter:  now.AddDate(10, 0, 0),
	})
	if err != nil {
		return nil, err
	}
	out := make([]Cert, 0, n+1)
	out = append(out, Cert{Nickname: "certsight synthetic root CA", DER: ca.Cert.Raw, Trust: "CT,C,C", WithKey: true, Key: ca.Key})

	var rsaPool []crypto.Signer
	for i := 0; i < min(4, (n+3)/4); i++ {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		rsaPool = append(rsaPool, k)
	}
	for i := range n {
		key := testpki.NewKey()
		if i%4 == 0 {
			key = rsaPool[(i/4)%len(rsaPool)]
		}
		name := fmt.Sprintf("client-%05d", i)
		c, err := ca.Issue(testpki.Options{
			Subject:   pkix.Name{CommonName: name, Organization: []string{"certsight synthetic"}},
			Serial:    big.NewInt(int64(1000 + i)),
			NotBefore: now.Add(-time.Hour),
			NotAfter:  now.AddDate(1, 0, 0),
			Emails:    []string{name + "@example.com"},
			Key:       key,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, Cert{Nickname: name, DER: c.Cert.Raw, Trust: syntheticTrusts[i%len(syntheticTrusts)], WithKey: i%3 == 0, Key: key})
	}
	return out, nil
}
