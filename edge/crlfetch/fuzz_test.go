package crlfetch

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/edge/revocation"
	"github.com/certsight/certsight/internal/testpki"
)

// fuzzURL is the distribution point the seed records are stored for.
const fuzzURL = "http://crl.example/fuzz.crl"

// FuzzCacheEntry feeds arbitrary record and CRL files through the cache
// loader: no panic, and an entry is accepted only with a CRL that the
// trust anchor (openssl-made, testdata/make.sh) really signed, which the
// store then holds.
func FuzzCacheEntry(f *testing.F) {
	ca, crl := fuzzFixtures(f)
	f.Fuzz(func(t *testing.T, rec, crlData []byte) {
		r, err := parseRecord(rec, entryName(fuzzURL))
		if err != nil {
			return
		}
		store := revocation.NewStore(revocation.Options{Issuers: []*x509.Certificate{ca}})
		roots := x509.NewCertPool()
		roots.AddCert(ca)
		fe, err := New(Options{Store: store, Mode: ModeAll, Roots: roots})
		if err != nil {
			t.Fatal(err)
		}
		if err := fe.loadEntry(r, crlData, x509.NewCertPool()); err != nil {
			return
		}
		ders, err := revocation.SplitCRLs(crlData)
		if err != nil || len(ders) != 1 {
			t.Fatalf("accepted an entry whose CRL does not split into one: %v", err)
		}
		l, err := x509.ParseRevocationList(ders[0])
		if err != nil || l.CheckSignatureFrom(ca) != nil {
			t.Fatalf("accepted a CRL the anchor did not sign: %v", err)
		}
		if st, ok := store.Status(ca); !ok || !st.HasCRL || string(l.Raw) != string(crl) {
			t.Fatalf("accepted entry: store status %+v, same CRL as the anchor's: %v", st, string(l.Raw) == string(crl))
		}
	})
}

func fuzzFixtures(f *testing.F) (*x509.Certificate, []byte) {
	f.Helper()
	pemData, err := os.ReadFile("testdata/ca.pem")
	if err != nil {
		f.Fatal(err)
	}
	b, _ := pem.Decode(pemData)
	if b == nil {
		f.Fatal("testdata/ca.pem: no PEM")
	}
	ca, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		f.Fatal(err)
	}
	crl, err := os.ReadFile("testdata/ca.crl")
	if err != nil {
		f.Fatal(err)
	}
	return ca, crl
}

// TestCacheEntryRules pins what the fuzz target's seeds exercise, so its
// "accepted" branch is known to be reached.
func TestCacheEntryRules(t *testing.T) {
	ca, crl := fuzzFixtures(&testing.F{})
	sum := sha256.Sum256(crl)
	good := record{URLs: []string{fuzzURL}, Issuers: [][]byte{ca.Raw}, CRLSHA256: hex.EncodeToString(sum[:]), validators: validators{ETag: `"e"`}}
	flipped := bytes.Clone(crl)
	flipped[len(flipped)-3] ^= 0x55
	stranger, err := testpki.NewRoot("Fetch Fuzz CA")
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		rec     record
		crl     []byte
		wantErr string
	}{
		{"openssl CRL of the anchor", good, crl, ""},
		{"as PEM", good, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl}), ""},
		{"a flipped signature byte", good, flipped, "signature does not verify"},
		{"an issuer not chaining to an anchor", record{URLs: good.URLs, Issuers: [][]byte{stranger.Cert.Raw}}, crl, "no issuer certificate chains to a trust anchor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := json.Marshal(tc.rec)
			require.NoError(t, err)
			r, err := parseRecord(data, entryName(fuzzURL))
			require.NoError(t, err)
			store := revocation.NewStore(revocation.Options{Issuers: []*x509.Certificate{ca}})
			roots := x509.NewCertPool()
			roots.AddCert(ca)
			fe, err := New(Options{Store: store, Mode: ModeAll, Roots: roots})
			require.NoError(t, err)
			err = fe.loadEntry(r, tc.crl, x509.NewCertPool())
			st, _ := store.Status(ca)
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				assert.False(t, st.HasCRL)
				return
			}
			require.NoError(t, err)
			assert.True(t, st.HasCRL)
			assert.Equal(t, 1, st.Revoked)
			assert.Equal(t, `"e"`, fe.jobs[fuzzURL].val.ETag, "validators kept when the record matches its CRL")
		})
	}
	_, err = parseRecord([]byte(`{"urls":["`+fuzzURL+`"],"issuers":["AA=="]}`), entryName("http://crl.example/other"))
	assert.ErrorContains(t, err, "stored under another URL's name")
	_, err = parseRecord([]byte(`{"urls":["`+fuzzURL+`"],"issuers":["AA=="],"extra":1}`), entryName(fuzzURL))
	assert.ErrorContains(t, err, "unknown field")
}
