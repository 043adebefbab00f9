package edge

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/edge/revocation"
	"github.com/certsight/certsight/edge/rules"
	"github.com/certsight/certsight/internal/testpki"
)

type pki struct {
	root, inter *testpki.Authority
	leaf        *testpki.Leaf
	pool        *x509.CertPool
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	root, err := testpki.NewRoot("Edge Test Root")
	require.NoError(t, err)
	inter, err := root.NewIntermediate("Edge Test Intermediate")
	require.NoError(t, err)
	leaf, err := inter.Issue(testpki.Options{Subject: pkix.Name{
		CommonName: "James Royal", OrganizationalUnit: []string{"Access Admins"}, Organization: []string{"Access"},
		Locality: []string{"Austin"}, Province: []string{"Texas"}, Country: []string{"US"}}})
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(root.Cert)
	return &pki{root: root, inter: inter, leaf: leaf, pool: pool}
}

func TestFieldsOfAVerifiedChain(t *testing.T) {
	p := newPKI(t)
	peer := []*x509.Certificate{p.leaf.Cert, p.inter.Cert, p.root.Cert}
	v := &Verifier{Roots: p.pool}
	res := v.Verify(peer)
	require.True(t, res.Verified, res.Reason)
	ci := newConnInfo(peer, res)

	assert.Equal(t, "true", ci.field(rules.FieldCertPresented))
	assert.Equal(t, "true", ci.field(rules.FieldCertVerified))
	assert.Equal(t, "false", ci.field(rules.FieldCertRevoked))
	assert.Equal(t, "CN=James Royal,OU=Access Admins,O=Access,L=Austin,ST=Texas,C=US", ci.field(rules.FieldCertSubjectDN))
	assert.Equal(t, ci.field(rules.FieldCertSubjectDN), ci.field(rules.FieldCertSubjectDNRFC2253))
	assert.Equal(t, "/C=US/ST=Texas/L=Austin/O=Access/OU=Access Admins/CN=James Royal", ci.field(rules.FieldCertSubjectDNLegacy))
	assert.Equal(t, "CN=Edge Test Intermediate,O=certsight test,C=US", ci.field(rules.FieldCertIssuerDN))
	assert.Equal(t, "/C=US/O=certsight test/CN=Edge Test Intermediate", ci.field(rules.FieldCertIssuerDNLegacy))
	assert.Equal(t, strings.ToUpper(p.leaf.Cert.SerialNumber.Text(16)), strings.TrimLeft(ci.field(rules.FieldCertSerial), "0"))
	assert.Equal(t, cert.SerialHex(p.inter.Cert), ci.field(rules.FieldCertIssuerSerial))
	assert.Regexp(t, `^[0-9A-F]+$`, ci.field(rules.FieldCertSKI))
	assert.Equal(t, cert.NewInfo(p.inter.Cert).SubjectKeyID, ci.field(rules.FieldCertIssuerSKI))
	assert.Regexp(t, `^[0-9a-f]{64}$`, ci.field(rules.FieldCertFingerprintSHA256))
	assert.Regexp(t, `^[0-9a-f]{40}$`, ci.field(rules.FieldCertFingerprintSHA1))
	assert.Regexp(t, `^[A-Z][a-z]{2} [ 1-3][0-9] \d\d:\d\d:\d\d \d{4} GMT$`, ci.field(rules.FieldCertNotAfter))
	assert.Equal(t, ":"+base64.StdEncoding.EncodeToString(p.leaf.Cert.Raw)+":", ci.field(rules.FieldCertRFC9440))
	// The root the client sent is left out of the chain.
	assert.Equal(t, ":"+base64.StdEncoding.EncodeToString(p.inter.Cert.Raw)+":", ci.field(rules.FieldCertChainRFC9440))
	assert.Equal(t, "false", ci.field(rules.FieldCertRFC9440TooLarge))

	assert.Equal(t, "1", ci.view.CertPresented)
	assert.Equal(t, "SUCCESS", ci.view.CertVerified)
	assert.Equal(t, "0", ci.view.CertRevoked)
	assert.Equal(t, base64.StdEncoding.EncodeToString(p.leaf.Cert.Raw), ci.legacyDER)
}

func TestNoCertificateGivesEmptyFields(t *testing.T) {
	ci := newConnInfo(nil, (&Verifier{}).Verify(nil))
	for id := range numCertFields {
		v := ci.field(id)
		assert.True(t, v == "" || v == "false", "field %d = %q", id, v)
	}
	assert.Equal(t, TLSClientAuth{CertPresented: "0", CertVerified: "NONE", CertRevoked: "0"}, ci.view)
}

func TestOversizedLeafIsTooLarge(t *testing.T) {
	p := newPKI(t)
	big, err := p.inter.Issue(testpki.Options{Padding: 9000})
	require.NoError(t, err)
	peer := []*x509.Certificate{big.Cert, p.inter.Cert}
	ci := newConnInfo(peer, (&Verifier{Roots: p.pool}).Verify(peer))
	assert.True(t, ci.result.Verified)
	assert.Equal(t, "true", ci.field(rules.FieldCertRFC9440TooLarge))
	assert.Empty(t, ci.field(rules.FieldCertRFC9440))
	assert.NotEmpty(t, ci.field(rules.FieldCertChainRFC9440))
}

func TestVerificationReasons(t *testing.T) {
	p := newPKI(t)
	expired, err := p.inter.Issue(testpki.Options{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	require.NoError(t, err)
	future, err := p.inter.Issue(testpki.Options{NotBefore: time.Now().Add(24 * time.Hour), NotAfter: time.Now().Add(48 * time.Hour)})
	require.NoError(t, err)
	serverOnly, err := p.inter.Issue(testpki.Options{EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	require.NoError(t, err)
	self, err := testpki.SelfSigned("self")
	require.NoError(t, err)
	otherRoot, err := testpki.NewRoot("Other Root")
	require.NoError(t, err)
	otherInter, err := otherRoot.NewIntermediate("Other Intermediate")
	require.NoError(t, err)
	otherLeaf, err := otherInter.Issue(testpki.Options{})
	require.NoError(t, err)

	cases := []struct {
		name string
		peer []*x509.Certificate
		want string
	}{
		{"valid chain", []*x509.Certificate{p.leaf.Cert, p.inter.Cert}, "SUCCESS"},
		{"no certificate", nil, "NONE"},
		{"leaf without its intermediate", []*x509.Certificate{p.leaf.Cert}, "FAILED:unable to get local issuer certificate"},
		{"expired leaf", []*x509.Certificate{expired.Cert, p.inter.Cert}, "FAILED:certificate has expired"},
		{"leaf not yet valid", []*x509.Certificate{future.Cert, p.inter.Cert}, "FAILED:certificate is not yet valid"},
		{"serverAuth-only leaf", []*x509.Certificate{serverOnly.Cert, p.inter.Cert}, "FAILED:unsupported certificate purpose"},
		{"self-signed leaf", []*x509.Certificate{self.Cert}, "FAILED:self signed certificate"},
		{"untrusted root sent along", []*x509.Certificate{otherLeaf.Cert, otherInter.Cert, otherRoot.Cert}, "FAILED:self signed certificate in certificate chain"},
		{"untrusted intermediate", []*x509.Certificate{otherLeaf.Cert, otherInter.Cert}, "FAILED:unable to get local issuer certificate"},
	}
	v := &Verifier{Roots: p.pool}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, v.Verify(tc.peer).Outcome())
		})
	}
	t.Run("no trust anchors", func(t *testing.T) {
		var nilV *Verifier
		assert.Equal(t, "FAILED:unable to get local issuer certificate", nilV.Verify([]*x509.Certificate{p.leaf.Cert, p.inter.Cert}).Outcome())
	})
}

func TestRevocation(t *testing.T) {
	p := newPKI(t)
	serial := p.leaf.Cert.SerialNumber
	chain := []*x509.Certificate{p.leaf.Cert, p.inter.Cert, p.root.Cert}
	now := time.Now()

	// An impostor CA with the same name as the intermediate but another key.
	impostorRoot, err := testpki.NewRoot("Edge Test Root")
	require.NoError(t, err)
	impostor, err := impostorRoot.NewIntermediate("Edge Test Intermediate")
	require.NoError(t, err)

	mk := func(a *testpki.Authority, this, next time.Time, serials ...*big.Int) []byte {
		der, err := a.CRL(serials, this, next)
		require.NoError(t, err)
		return der
	}
	current := mk(p.inter, now.Add(-time.Hour), now.Add(time.Hour), serial)
	staleListing := mk(p.inter, now.Add(-48*time.Hour), now.Add(-24*time.Hour), serial)
	staleEmpty := mk(p.inter, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	notYet := mk(p.inter, now.Add(time.Hour), now.Add(48*time.Hour), serial)
	forged := mk(impostor, now.Add(-time.Hour), now.Add(time.Hour), serial)
	empty := mk(p.inter, now.Add(-time.Hour), now.Add(time.Hour))
	interRevoked := mk(p.root, now.Add(-time.Hour), now.Add(time.Hour), p.inter.Cert.SerialNumber)

	cases := []struct {
		name     string
		der      []byte
		policy   revocation.Policy
		accepted bool
		outcome  string
		revoked  bool
	}{
		{"current CRL listing the leaf", current, revocation.FailClosed, true, "FAILED:certificate revoked", true},
		{"stale CRL listing the leaf: never forgotten", staleListing, revocation.FailOpen, true, "FAILED:certificate revoked", true},
		{"stale CRL, fail closed", staleEmpty, revocation.FailClosed, true, "FAILED:CRL has expired", false},
		{"stale CRL, fail open", staleEmpty, revocation.FailOpen, true, "SUCCESS", false},
		{"CRL from the future still proves revocation", notYet, revocation.FailClosed, true, "FAILED:certificate revoked", true},
		{"CRL signed by a same-name impostor is refused", forged, revocation.FailClosed, false, "SUCCESS", false},
		{"current CRL without the leaf", empty, revocation.FailClosed, true, "SUCCESS", false},
		{"root's CRL revoking the intermediate", interRevoked, revocation.FailClosed, true, "FAILED:certificate revoked", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store := revocation.NewStore(revocation.Options{Issuers: []*x509.Certificate{p.root.Cert, p.inter.Cert}})
			_, err := store.Offer(tc.der, "test")
			assert.Equal(t, tc.accepted, err == nil, "offer: %v", err)
			res := (&Verifier{Roots: p.pool, Revocation: store, Policy: tc.policy}).Verify(chain[:2])
			assert.Equal(t, tc.outcome, res.Outcome())
			assert.Equal(t, tc.revoked, res.Revoked)
			ci := newConnInfo(chain[:2], res)
			assert.Equal(t, oneZero(tc.revoked), ci.view.CertRevoked)
			if tc.outcome != VerifySuccess {
				assert.Empty(t, ci.legacyDER, "no legacy forwarding")
				assert.False(t, ci.flag[rules.FieldCertVerified] && !ci.flag[rules.FieldCertRevoked], "rules never see verified and unrevoked")
			}
		})
	}

	t.Run("a kept-alive connection follows a new CRL", func(t *testing.T) {
		store := revocation.NewStore(revocation.Options{Issuers: []*x509.Certificate{p.root.Cert, p.inter.Cert}})
		_, err := store.Offer(empty, "a")
		require.NoError(t, err)
		e, err := New(Config{Verifier: &Verifier{Roots: p.pool, Revocation: store}})
		require.NoError(t, err)
		st := &connState{}
		cs := &tls.ConnectionState{PeerCertificates: chain[:2]}
		ci := e.connInfoFor(st, cs, "192.0.2.1:1")
		require.Equal(t, VerifySuccess, ci.view.CertVerified)
		assert.Same(t, ci, e.connInfoFor(st, cs, "192.0.2.1:1"), "cached while nothing changes")
		// A newer CRL (testpki numbers CRLs at random: this one is explicit).
		newer, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: new(big.Int).Lsh(big.NewInt(1), 100),
			ThisUpdate: now, NextUpdate: now.Add(time.Hour),
			RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: serial, RevocationTime: now}}}, p.inter.Cert, p.inter.Key)
		require.NoError(t, err)
		_, err = store.Offer(newer, "b")
		require.NoError(t, err)
		ci = e.connInfoFor(st, cs, "192.0.2.1:1")
		assert.Equal(t, "FAILED:certificate revoked", ci.view.CertVerified)
		assert.True(t, ci.flag[rules.FieldCertRevoked])
	})

	t.Run("a kept-alive connection follows notAfter", func(t *testing.T) {
		short, err := p.inter.Issue(testpki.Options{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
		require.NoError(t, err)
		clock := now
		e, err := New(Config{Verifier: &Verifier{Roots: p.pool, Now: func() time.Time { return clock }}})
		require.NoError(t, err)
		st := &connState{}
		cs := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{short.Cert, p.inter.Cert}}
		require.Equal(t, VerifySuccess, e.connInfoFor(st, cs, "").view.CertVerified)
		clock = short.Cert.NotAfter.Add(time.Second)
		assert.Equal(t, "FAILED:certificate has expired", e.connInfoFor(st, cs, "").view.CertVerified)
	})

	t.Run("chain limits", func(t *testing.T) {
		v := &Verifier{Roots: p.pool, MaxChainCerts: 2}
		assert.Equal(t, VerifySuccess, v.Verify(chain[:2]).Outcome())
		assert.Equal(t, "FAILED:certificate chain too long", v.Verify(chain).Outcome())
		v = &Verifier{Roots: p.pool, MaxChainBytes: len(p.leaf.Cert.Raw)}
		assert.Equal(t, "FAILED:certificate chain too long", v.Verify(chain[:2]).Outcome())
	})
}

func TestSanitizerFoldsAliases(t *testing.T) {
	s := newSanitizer([]string{"Client-Cert", "Client-Cert-Chain"}, []string{"Cf-Client-Cert-"})
	for _, name := range []string{
		"Client-Cert", "client-cert", "CLIENT-CERT", "Client_Cert", "client.cert", "Client~Cert", "Client+Cert",
		"Client-Cert-Chain", "client_cert_chain", "Client.Cert.Chain", "Cf-Client-Cert-Der-Base64",
		"cf_client_cert_sha256", "Cf-Client-Cert-Anything", "Cf-Client-Cert-" + strings.Repeat("x", 300),
	} {
		assert.True(t, s.managed(name), name)
	}
	for _, name := range []string{"Client-Certs", "X-Client-Cert", "Client-Cer", "Cf-Client", "Accept", strings.Repeat("c", 300)} {
		assert.False(t, s.managed(name), name)
	}
	h := http.Header{"Client_cert": {"x"}, "Client-Cert": {"a", "b"}, "Accept": {"*/*"}, "Connection": {"close, Client-Cert, Keep-Alive"}}
	s.strip(h)
	s.stripConnectionTokens(h)
	assert.Equal(t, http.Header{"Accept": {"*/*"}, "Connection": {"close, Keep-Alive"}}, h)
}

func TestHostOnly(t *testing.T) {
	for in, want := range map[string]string{
		"example.com": "example.com", "example.com:8443": "example.com", "[::1]:8443": "::1", "::1": "::1", "": "",
	} {
		assert.Equal(t, want, hostOnly(in), in)
	}
}

func TestLegacySettings(t *testing.T) {
	hs, err := LoadHostnameSettings(strings.NewReader(`{"settings":[{"hostname":"App.example.com","china_network":false,"client_certificate_forwarding":true},{"hostname":"off.example.com","client_certificate_forwarding":false}]}`))
	require.NoError(t, err)
	e, err := New(Config{Legacy: LegacyEveryRequest, LegacyHosts: hs})
	require.NoError(t, err)
	assert.True(t, e.cfg.Load().legacyHost("app.example.com"))
	assert.False(t, e.cfg.Load().legacyHost("off.example.com"))
	assert.False(t, e.cfg.Load().legacyHost("other.example.com"))
	_, err = LoadHostnameSettings(strings.NewReader(`{"settings":[{"hostname":"a","forwarding":true}]}`))
	assert.Error(t, err, "unknown keys are rejected")
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}
