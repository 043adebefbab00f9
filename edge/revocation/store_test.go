package revocation

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testpki"
)

type pki struct {
	root, inter *testpki.Authority
	leaf, other *testpki.Leaf
	chain       []*x509.Certificate // leaf, inter, root
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	p := &pki{}
	var err error
	p.root, err = testpki.NewRoot("Rev Root CA")
	require.NoError(t, err)
	p.inter, err = p.root.NewIntermediate("Rev Intermediate CA")
	require.NoError(t, err)
	p.leaf, err = p.inter.Issue(testpki.Options{})
	require.NoError(t, err)
	p.other, err = p.inter.Issue(testpki.Options{})
	require.NoError(t, err)
	p.chain = []*x509.Certificate{p.leaf.Cert, p.inter.Cert, p.root.Cert}
	return p
}

// crl makes a CRL of a with an explicit number.
func crl(t testing.TB, a *testpki.Authority, number int64, this, next time.Time, entries ...x509.RevocationListEntry) []byte {
	t.Helper()
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(number),
		ThisUpdate: this, NextUpdate: next, RevokedCertificateEntries: entries}, a.Cert, a.Key)
	require.NoError(t, err)
	return der
}

func revoke(s *big.Int, reason int) x509.RevocationListEntry {
	return x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now().Add(-2 * time.Hour), ReasonCode: reason}
}

// reencoded returns a's certificate with its subject written differently
// (UTF8String, other case, extra spaces), equal as X.509 compares names.
func reencoded(t testing.TB, c *x509.Certificate) *x509.Certificate {
	t.Helper()
	type atv struct {
		Type  asn1.ObjectIdentifier
		Value asn1.RawValue
	}
	var rdns []asn1.RawValue
	for _, n := range c.Subject.Names {
		v := "  " + strings.ToUpper(strings.ReplaceAll(n.Value.(string), " ", "   ")) + " "
		der, err := asn1.Marshal([]atv{{Type: n.Type, Value: asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(v)}}})
		require.NoError(t, err)
		der[0] = 0x31 // SET, not SEQUENCE
		rdns = append(rdns, asn1.RawValue{FullBytes: der})
	}
	raw, err := asn1.Marshal(rdns)
	require.NoError(t, err)
	cp := *c
	cp.RawSubject = raw
	return &cp
}

func TestCanonicalName(t *testing.T) {
	p := newPKI(t)
	a, err := CanonicalName(p.inter.Cert.RawSubject)
	require.NoError(t, err)
	re := reencoded(t, p.inter.Cert)
	require.NotEqual(t, p.inter.Cert.RawSubject, re.RawSubject)
	b, err := CanonicalName(re.RawSubject)
	require.NoError(t, err)
	assert.Equal(t, a, b)
	c, err := CanonicalName(p.root.Cert.RawSubject)
	require.NoError(t, err)
	assert.NotEqual(t, a, c)
	_, err = CanonicalName([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	assert.Error(t, err)
}

func TestOfferRules(t *testing.T) {
	p := newPKI(t)
	now := time.Now()
	good := crl(t, p.inter, 10, now.Add(-time.Hour), now.Add(time.Hour), revoke(p.leaf.Cert.SerialNumber, 1))
	impostorRoot, err := testpki.NewRoot("Rev Root CA")
	require.NoError(t, err)
	impostor, err := impostorRoot.NewIntermediate("Rev Intermediate CA")
	require.NoError(t, err)
	stranger, err := testpki.NewRoot("Stranger CA")
	require.NoError(t, err)
	// An issuer name encoded differently, signed by the real key.
	reIssuer := reencoded(t, p.inter.Cert)
	reDER, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(11),
		ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour)}, reIssuer, p.inter.Key)
	require.NoError(t, err)
	delta, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(12),
		ThisUpdate: now, NextUpdate: now.Add(time.Hour), ExtraExtensions: []pkix.Extension{{Id: oidDeltaCRLIndicator, Critical: true, Value: []byte{2, 1, 10}}}}, p.inter.Cert, p.inter.Key)
	require.NoError(t, err)

	cases := []struct {
		name    string
		der     []byte
		wantErr error
		wantOK  bool
	}{
		{"garbage", []byte("not a CRL"), ErrParse, false},
		{"another CA's CRL", crl(t, stranger, 1, now, now.Add(time.Hour)), ErrUnknownIssuer, false},
		{"same name, other key", crl(t, impostor, 99, now, now.Add(time.Hour)), ErrSignature, false},
		{"delta CRL", delta, ErrUnsupported, false},
		{"genuine", good, nil, true},
		{"the same again", good, nil, false},
		{"older thisUpdate", crl(t, p.inter, 20, now.Add(-2*time.Hour), now.Add(time.Hour)), ErrOlder, false},
		{"lower CRL number", crl(t, p.inter, 9, now, now.Add(time.Hour)), ErrOlder, false},
		{"issuer name encoded differently", reDER, nil, true},
	}
	s := NewStore(Options{Issuers: []*x509.Certificate{p.root.Cert, p.inter.Cert}})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gen := s.Generation()
			ok, err := s.Offer(tc.der, tc.name)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.wantOK, ok)
			assert.Equal(t, tc.wantOK, s.Generation() != gen, "generation bumps exactly on change")
		})
	}
	st, ok := s.Status(p.inter.Cert)
	require.True(t, ok)
	assert.Equal(t, "issuer name encoded differently", st.Source)
	assert.True(t, st.Current)
	// The newest CRL lists nothing, but the revocation is not forgotten.
	v := s.Check(p.chain, now)
	assert.True(t, v.Revoked)
	assert.Equal(t, 0, v.RevokedIndex)
}

func TestOfferWithoutNextUpdate(t *testing.T) {
	p := newPKI(t)
	l, err := x509.ParseRevocationList(crl(t, p.inter, 1, time.Now(), time.Now().Add(time.Hour)))
	require.NoError(t, err)
	l.NextUpdate = time.Time{}
	s := NewStore(Options{Issuers: []*x509.Certificate{p.inter.Cert}})
	_, err = s.OfferList(l, "x")
	require.ErrorIs(t, err, ErrUnsupported)
}

func TestKnownRevocationsAndStaleness(t *testing.T) {
	p := newPKI(t)
	now := time.Now()
	var logs bytes.Buffer
	s := NewStore(Options{Issuers: []*x509.Certificate{p.root.Cert, p.inter.Cert},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	// Uncovered issuers: nothing to say.
	v := s.Check(p.chain, now)
	assert.Equal(t, Verdict{Generation: s.Generation()}, v)

	next := now.Add(time.Hour)
	_, err := s.Offer(crl(t, p.inter, 1, now.Add(-time.Hour), next,
		revoke(p.leaf.Cert.SerialNumber, 1), revoke(p.other.Cert.SerialNumber, reasonCertificateHold)), "a")
	require.NoError(t, err)
	v = s.Check(p.chain, now)
	assert.True(t, v.Revoked)

	otherChain := []*x509.Certificate{p.other.Cert, p.inter.Cert, p.root.Cert}
	assert.True(t, s.Check(otherChain, now).Revoked, "on hold")

	// A newer CRL that lists neither: the revocation stays, the hold is released.
	next2 := now.Add(2 * time.Hour)
	_, err = s.Offer(crl(t, p.inter, 2, now.Add(-time.Minute), next2), "b")
	require.NoError(t, err)
	assert.True(t, s.Check(p.chain, now).Revoked)
	v = s.Check(otherChain, now)
	assert.False(t, v.Revoked)
	assert.False(t, v.Stale)
	assert.WithinDuration(t, next2, v.Until, time.Second)

	// Past nextUpdate: the issuer is stale, known revocations still count.
	later := next2.Add(time.Second)
	assert.True(t, s.Check(p.chain, later).Revoked)
	v = s.Check(otherChain, later)
	assert.True(t, v.Stale)
	assert.Contains(t, v.StaleIssuer, "Rev Intermediate CA")

	gen := s.Generation()
	s.Touch()
	assert.Equal(t, gen+1, s.Generation())
	gen = s.Generation()
	s.Tick(later)
	s.Tick(later)
	assert.Equal(t, gen+1, s.Generation(), "staleness bumps the generation once")
	assert.Equal(t, 1, strings.Count(logs.String(), "revocation data is stale"), "logged once")

	// Cover without a CRL: stale until one arrives.
	s2 := NewStore(Options{Issuers: []*x509.Certificate{p.root.Cert}})
	s2.Cover(p.inter.Cert)
	assert.True(t, s2.Check(p.chain, now).Stale)
	st, ok := s2.Status(p.inter.Cert)
	require.True(t, ok)
	assert.True(t, st.Covered)
	assert.False(t, st.HasCRL)
	assert.Len(t, s2.Statuses(), 2)
}

func TestLearnedIntermediate(t *testing.T) {
	p := newPKI(t)
	s := NewStore(Options{Issuers: []*x509.Certificate{p.root.Cert}})
	der := crl(t, p.inter, 1, time.Now().Add(-time.Minute), time.Now().Add(time.Hour), revoke(p.leaf.Cert.SerialNumber, 0))
	_, err := s.Offer(der, "x")
	require.ErrorIs(t, err, ErrUnknownIssuer)
	assert.True(t, s.Learn(p.inter.Cert))
	assert.False(t, s.Learn(p.inter.Cert))
	assert.False(t, s.Learn(p.leaf.Cert), "not a CA")
	ok, err := s.Offer(der, "x")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.True(t, s.Check(p.chain, time.Now()).Revoked)
}

func TestFilesRetryAfterFailure(t *testing.T) {
	p := newPKI(t)
	now := time.Now()
	dir := t.TempDir()
	path := filepath.Join(dir, "inter.crl")
	pemOf := func(der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}) }
	empty := pemOf(crl(t, p.inter, 1, now.Add(-time.Hour), now.Add(time.Hour)))
	full := pemOf(crl(t, p.inter, 2, now.Add(-time.Minute), now.Add(time.Hour), revoke(p.leaf.Cert.SerialNumber, 1)))
	require.NoError(t, os.WriteFile(path, empty, 0o600))

	var logs bytes.Buffer
	s := NewStore(Options{Issuers: []*x509.Certificate{p.root.Cert, p.inter.Cert}})
	f := NewFiles(s, []string{path}, slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, f.Load())

	// A broken write, then the good CRL with the very same size and mtime.
	size := max(len(full), len(empty)) + 16
	pad := func(b []byte) []byte {
		return append(append([]byte{}, b...), bytes.Repeat([]byte("\n"), size-len(b))...)
	}
	mtime := now.Add(-time.Minute).Truncate(time.Second)
	require.NoError(t, os.WriteFile(path, bytes.Repeat([]byte("x"), size), 0o600))
	require.NoError(t, os.Chtimes(path, mtime, mtime))
	f.Poll()
	f.Poll()
	assert.Equal(t, 1, strings.Count(logs.String(), "CRL reload failed"), "one ERROR per distinct failure")
	assert.Contains(t, logs.String(), "level=ERROR")
	assert.Contains(t, logs.String(), path)
	assert.False(t, s.Check(p.chain, now).Revoked, "the last good CRL stays")

	require.NoError(t, os.WriteFile(path, pad(full), 0o600))
	require.NoError(t, os.Chtimes(path, mtime, mtime))
	f.Poll()
	assert.True(t, s.Check(p.chain, now).Revoked, "retried although size and mtime did not change")
	assert.Contains(t, logs.String(), "CRL file loads again")

	// At start, a foreign CRL is an error naming the file.
	stranger, err := testpki.NewRoot("Stranger CA")
	require.NoError(t, err)
	bad := filepath.Join(dir, "stranger.crl")
	require.NoError(t, os.WriteFile(bad, pemOf(crl(t, stranger, 1, now, now.Add(time.Hour))), 0o600))
	err = NewFiles(NewStore(Options{Issuers: []*x509.Certificate{p.root.Cert}}), []string{bad}, nil).Load()
	require.ErrorIs(t, err, ErrUnknownIssuer)
	assert.Contains(t, err.Error(), bad)
}
