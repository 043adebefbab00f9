package posture_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/posture"
	"github.com/certsight/certsight/posture/identity"
	"github.com/certsight/certsight/stores"
)

// fakeScanner answers from fixed entries and counts its calls.
type fakeScanner struct {
	mu     sync.Mutex
	calls  []string
	byPath map[string]stores.Result
	byLoc  map[stores.Location]stores.Result
}

func (f *fakeScanner) Paths(_ context.Context, paths []string, _ ...stores.Kind) stores.Seq {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "paths:"+strings.Join(paths, ","))
	var r stores.Result
	for _, p := range paths {
		r.Add(f.byPath[p])
	}
	return replay(r)
}

func (f *fakeScanner) DefaultsAt(_ context.Context, loc stores.Location, _ ...stores.Kind) stores.Seq {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "at:"+string(loc))
	return replay(f.byLoc[loc])
}

// replay hands over a prepared result as a read would.
func replay(r stores.Result) stores.Seq {
	return stores.Concat(func(yield func(stores.Entry, error) bool) {
		for _, e := range r.Entries {
			if !yield(e, nil) {
				return
			}
		}
	}, stores.Errors(r.Errors...))
}

type signer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func mkCert(t *testing.T, cn string, parent *signer, isCA bool, mod func(*x509.Certificate)) *signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, BasicConstraintsValid: isCA, IsCA: isCA,
	}
	if mod != nil {
		mod(tmpl)
	}
	parentCert, parentKey := tmpl, key
	if parent != nil {
		parentCert, parentKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), parentKey)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &signer{c, key}
}

func entryOf(s *signer, kind stores.Kind, loc stores.Location, path string, key stores.KeyMatch) stores.Entry {
	e := stores.NewEntry(s.cert, kind, loc, path)
	e.Key = key
	return e
}

func checkFor(ca *signer) posture.Check {
	return posture.Check{Name: "r", CA: posture.CA{Name: "corp", Certificates: []*x509.Certificate{ca.cert}},
		CheckValidity: true, EKUs: []string{"clientAuth"}}
}

func TestEvaluateTrustStores(t *testing.T) {
	ca := mkCert(t, "CA", nil, true, nil)
	leaf := mkCert(t, "alice", ca, false, nil)
	other := mkCert(t, "bob", ca, false, nil)
	sc := &fakeScanner{byLoc: map[stores.Location]stores.Result{
		stores.LocationSystem: {Entries: []stores.Entry{entryOf(other, stores.KindNSSDB, stores.LocationSystem, "/etc/pki/nssdb", stores.KeyAbsent)},
			Errors: []error{errors.New("nssdb /etc/pki/nssdb: key4.db: locked")}},
		stores.LocationUser: {Entries: []stores.Entry{entryOf(leaf, stores.KindNSSDB, stores.LocationUser, "/home/u/.pki/nssdb", stores.KeyMatched)}},
	}}
	ck := checkFor(ca)
	ck.CheckPrivateKey = true
	ck.CN = "ALICE"
	ck.TrustStores = []stores.Location{stores.LocationSystem, stores.LocationUser}
	res := posture.EvaluateCheck(t.Context(), ck, posture.Env{Scanner: sc})
	assert.True(t, res.Passed, res.Reason)
	assert.Equal(t, "nssdb", res.MatchedStore, "a key matched in the store counts")
	assert.Equal(t, "/home/u/.pki/nssdb", res.MatchedPath)
	assert.Equal(t, 2, res.Candidates)
	assert.Equal(t, "ALICE", res.ExpectedCN)

	// Failing: the nearest candidate is described with its store, and the
	// read errors are quoted.
	ck.CN = "carol"
	res = posture.EvaluateCheck(t.Context(), ck, posture.Env{Scanner: sc})
	assert.False(t, res.Passed)
	assert.Contains(t, res.Reason, `nssdb /home/u/.pki/nssdb (CN=alice`)
	assert.Contains(t, res.Reason, `common name "alice" is not "carol"`)
	assert.NotContains(t, res.Reason, "CN=bob", "bob also lacks its key: farther")
	assert.Contains(t, res.Reason, "could not read: nssdb /etc/pki/nssdb: key4.db: locked")
}

func TestEvaluateReadsEachLocationOnce(t *testing.T) {
	ca := mkCert(t, "CA", nil, true, nil)
	sc := &fakeScanner{}
	ck := checkFor(ca)
	ck.TrustStores = []stores.Location{stores.LocationUser}
	ck2 := ck
	ck2.Name = "r2"
	ck3 := ck
	ck3.Name, ck3.TrustStores, ck3.Paths = "r3", nil, []string{"/a.pem"}
	p := posture.Policy{Checks: []posture.Check{ck, ck2, ck3, ck3}}
	res := p.Evaluate(t.Context(), posture.Env{Scanner: sc})
	require.Len(t, res, 4)
	assert.Equal(t, []string{"at:user", "paths:/a.pem"}, sc.calls)
	assert.Equal(t, "no certificates found in paths /a.pem", res[2].Reason)
	assert.Equal(t, "no certificates found in the user trust stores", res[0].Reason)
}

func TestEvaluateClockAndSANs(t *testing.T) {
	ca := mkCert(t, "CA", nil, true, nil)
	leaf := mkCert(t, "dev", ca, false, func(c *x509.Certificate) {
		c.DNSNames = []string{"dev.corp.example"}
		c.EmailAddresses = []string{"dev@corp.example"}
	})
	sc := &fakeScanner{byPath: map[string]stores.Result{"/c.pem": {Entries: []stores.Entry{
		entryOf(leaf, stores.KindPEM, stores.LocationPath, "/c.pem", stores.KeyMatched)}}}}
	ck := checkFor(ca)
	ck.Paths = []string{"/c.pem"}
	env := posture.Env{Scanner: sc, Device: identity.Fixed("dev", "SN1", nil)}

	ck.SANs = []string{"${hostname}.corp.example", "email:DEV@corp.example"}
	res := posture.EvaluateCheck(t.Context(), ck, env)
	assert.True(t, res.Passed, res.Reason)

	ck.SANs = []string{"other.corp.example"}
	res = posture.EvaluateCheck(t.Context(), ck, env)
	assert.Contains(t, res.Reason, `lacks subject alternative name "other.corp.example"`)

	ck.SANs = nil
	env.Now = func() time.Time { return leaf.cert.NotAfter.Add(time.Second) }
	res = posture.EvaluateCheck(t.Context(), ck, env)
	assert.Contains(t, res.Reason, "expired on "+leaf.cert.NotAfter.UTC().Format("Jan _2 15:04:05 2006 GMT"))
	env.Now = func() time.Time { return leaf.cert.NotBefore.Add(-time.Second) }
	res = posture.EvaluateCheck(t.Context(), ck, env)
	assert.Contains(t, res.Reason, "not valid until")
	ck.CheckValidity = false
	assert.True(t, posture.EvaluateCheck(t.Context(), ck, env).Passed)
}

func TestEvaluateNearestIsBoundedAndDeterministic(t *testing.T) {
	ca := mkCert(t, "CA", nil, true, nil)
	var es []stores.Entry
	for _, n := range []string{"e", "d", "c", "b", "a"} {
		es = append(es, entryOf(mkCert(t, "x"+n, ca, false, nil), stores.KindPEM, stores.LocationPath, "/d/"+n+".pem", stores.KeyAbsent))
	}
	ck := checkFor(ca)
	ck.CN = "y"
	ck.Paths = []string{"/d"}
	reasons := map[string]bool{}
	for i := 0; i < 3; i++ {
		shuffled := append([]stores.Entry(nil), es...)
		shuffled[0], shuffled[i+1] = shuffled[i+1], shuffled[0]
		sc := &fakeScanner{byPath: map[string]stores.Result{"/d": {Entries: shuffled}}}
		res := posture.EvaluateCheck(t.Context(), ck, posture.Env{Scanner: sc})
		reasons[res.Reason] = true
		assert.Contains(t, res.Reason, "none of 5 certificates passed; nearest: /d/a.pem")
		assert.Contains(t, res.Reason, "and 2 more like them")
		assert.NotContains(t, res.Reason, "/d/e.pem")
	}
	assert.Len(t, reasons, 1, "the reason does not depend on read order")
}

func TestExpand(t *testing.T) {
	dev := identity.Fixed("laptop-7", "C02XK0AB", nil)
	got, err := posture.Expand(t.Context(), "${hostname}.com.${serial_number}", dev)
	require.NoError(t, err)
	assert.Equal(t, "laptop-7.com.C02XK0AB", got)
	got, err = posture.Expand(t.Context(), "plain", nil)
	require.NoError(t, err)
	assert.Equal(t, "plain", got)

	_, err = posture.Expand(t.Context(), "${serial_number}_corp", identity.Fixed("h", "", errors.New("dmi missing")))
	assert.ErrorIs(t, err, identity.ErrNoSerial)
	assert.ErrorContains(t, err, "dmi missing")
	_, err = posture.Expand(t.Context(), "${hostname}", nil)
	assert.ErrorContains(t, err, "host name is unavailable")
	_, err = posture.Expand(t.Context(), "${user}", dev)
	assert.ErrorContains(t, err, "unknown variable ${user}")
}

func TestEvaluateWithoutScanner(t *testing.T) {
	ca := mkCert(t, "CA", nil, true, nil)
	res := posture.EvaluateCheck(t.Context(), checkFor(ca), posture.Env{})
	assert.False(t, res.Passed)
	assert.Contains(t, res.Reason, "no certificate scanner")
}

// check_private_key passes on a matched key only: a link, an encrypted key,
// another certificate's key and an unreadable key store each fail and say why.
func TestCheckPrivateKeyNeedsMatchedKey(t *testing.T) {
	ca := mkCert(t, "CA", nil, true, nil)
	leaf := mkCert(t, "alice", ca, false, nil)
	for _, tc := range []struct {
		key    stores.KeyMatch
		pass   bool
		reason string
	}{
		{stores.KeyMatched, true, ""},
		{stores.KeyLinked, false, "only links a private key"},
		{stores.KeyLocked, false, "encrypted"},
		{stores.KeyMismatch, false, "belongs to another certificate"},
		{stores.KeyUnknown, false, "could not be read"},
		{stores.KeyAbsent, false, "no private key"},
	} {
		t.Run(tc.key.String(), func(t *testing.T) {
			e := entryOf(leaf, stores.KindNSSDB, stores.LocationUser, "/home/u/.pki/nssdb", tc.key)
			sc := &fakeScanner{byLoc: map[stores.Location]stores.Result{stores.LocationUser: {Entries: []stores.Entry{e}}}}
			ck := checkFor(ca)
			ck.CheckPrivateKey = true
			ck.TrustStores = []stores.Location{stores.LocationUser}
			res := posture.EvaluateCheck(t.Context(), ck, posture.Env{Scanner: sc})
			assert.Equal(t, tc.pass, res.Passed, res.Reason)
			assert.Contains(t, res.Reason, tc.reason)
		})
	}
}

// upnSAN is a SAN extension holding one UPN otherName.
func upnSAN(t *testing.T, upn string) pkix.Extension {
	t.Helper()
	oid, err := asn1.Marshal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3})
	require.NoError(t, err)
	s, err := asn1.MarshalWithParams(upn, "utf8")
	require.NoError(t, err)
	val, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: s})
	require.NoError(t, err)
	on, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(oid, val...)})
	require.NoError(t, err)
	seq, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: on})
	require.NoError(t, err)
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: seq}
}

// A Windows user certificate whose CN is a display name is found by its UPN,
// as cn or as a listed SAN.
func TestCNAndSANMatchUPN(t *testing.T) {
	ca := mkCert(t, "CA", nil, true, nil)
	leaf := mkCert(t, "Alice Example", ca, false, func(c *x509.Certificate) {
		c.ExtraExtensions = []pkix.Extension{upnSAN(t, "alice@corp.example")}
	})
	e := entryOf(leaf, stores.KindPEM, stores.LocationUser, "/home/alice/alice.pem", stores.KeyMatched)
	sc := &fakeScanner{byLoc: map[stores.Location]stores.Result{stores.LocationUser: {Entries: []stores.Entry{e}}}}
	for _, tc := range []struct {
		name string
		cn   string
		sans []string
		pass bool
	}{
		{"cn equal to the UPN", "ALICE@corp.example", nil, true},
		{"cn equal to the common name", "alice example", nil, true},
		{"UPN listed with its kind", "", []string{"UPN:alice@corp.example"}, true},
		{"UPN listed bare", "", []string{"alice@corp.example"}, true},
		{"another UPN", "bob@corp.example", nil, false},
		{"an email SAN is not a UPN", "", []string{"email:alice@corp.example"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ck := checkFor(ca)
			ck.CN, ck.SANs = tc.cn, tc.sans
			ck.TrustStores = []stores.Location{stores.LocationUser}
			res := posture.EvaluateCheck(t.Context(), ck, posture.Env{Scanner: sc})
			assert.Equal(t, tc.pass, res.Passed, res.Reason)
		})
	}
}
