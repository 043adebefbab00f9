package xfcc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/internal/testtool"
)

// Envoy's documented examples (configuration/http/http_conn_man/headers,
// x-forwarded-client-cert) parse and format back byte for byte.
var envoyExamples = []string{
	`By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;URI=http://testclient.lyft.com`,
	`By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;URI=http://testclient.lyft.com,By=http://backend.lyft.com;Hash=9ba61d6425303443c0748a02dd8de688468ed33be74eee6556d90c0149c1309e;URI=http://frontend.lyft.com`,
	`By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com;DNS=lyft.com;DNS=www.lyft.com`,
	`By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=`,
	`Hash=abc;Subject="CN=Acme\, Inc.,O=\"Q\"";URI=`,
}

func TestEnvoyExamplesRoundTrip(t *testing.T) {
	for _, ex := range envoyExamples {
		t.Run(ex[:40], func(t *testing.T) {
			elems, err := Parse(ex)
			require.NoError(t, err)
			assert.Equal(t, ex, Format(elems...))
		})
	}
	elems, err := Parse(envoyExamples[2])
	require.NoError(t, err)
	require.Len(t, elems, 1)
	assert.Equal(t, []string{"http://frontend.lyft.com"}, elems[0].By)
	assert.Equal(t, "/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client", elems[0].Subject)
	assert.Equal(t, []string{"lyft.com", "www.lyft.com"}, elems[0].DNS)
	elems, err = Parse(envoyExamples[1])
	require.NoError(t, err)
	assert.Len(t, elems, 2)
}

func TestParseRejects(t *testing.T) {
	for _, bad := range []string{
		"", ",", "Hash", "Hash=a;;", `Subject="abc`, `Hash=a"b`, "Hash=a;Hash=b", "=x", "Cert=%zz",
		strings.Repeat("By=a,", MaxElements) + "By=a",
	} {
		_, err := Parse(bad)
		assert.ErrorIs(t, err, ErrSyntax, "%q", bad)
	}
}

func TestQuoting(t *testing.T) {
	e := Element{Hash: "ab", URI: []string{"spiffe://a/b?x=1;y", `we"ird\`}, DNS: []string{"a.example", "bad\r\nname"}}
	got := Format(e)
	assert.Equal(t, `Hash=ab;URI="spiffe://a/b?x=1;y";URI="we\"ird\\";DNS=a.example;DNS=bad%0D%0Aname`, got)
	back, err := Parse(got)
	require.NoError(t, err)
	assert.Equal(t, []string{"spiffe://a/b?x=1;y", `we"ird\`}, back[0].URI)
}

func TestURLEncodeMatchesEnvoy(t *testing.T) {
	// Envoy's encoder keeps ALPHA, DIGIT, '*', '-', '.', '_'.
	pem := "-----BEGIN CERTIFICATE-----\na+b/c=\n-----END CERTIFICATE-----\n"
	assert.Equal(t, "-----BEGIN%20CERTIFICATE-----%0Aa%2Bb%2Fc%3D%0A-----END%20CERTIFICATE-----%0A", string(URLEncode(nil, pem)))
	assert.Equal(t, "a*b.c_d%7E", string(URLEncode(nil, "a*b.c_d~")))
}

// newCert makes a leaf with URI and DNS SANs signed by a fresh CA.
func newCert(t *testing.T, subject pkix.Name) (leaf, ca *x509.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "XFCC CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	require.NoError(t, err)
	ca, err = x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	u, _ := url.Parse("spiffe://example.org/ns/default/sa/client")
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: subject, NotBefore: caTmpl.NotBefore,
		NotAfter: caTmpl.NotAfter, URIs: []*url.URL{u}, DNSNames: []string{"client.example", "www.client.example"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	require.NoError(t, err)
	leaf, err = x509.ParseCertificate(der)
	require.NoError(t, err)
	return leaf, ca
}

// TestFromCertificatesAgainstOpenSSL checks every derived value against
// openssl: the PEM Envoy writes (PEM_write_bio_X509), the SHA-256 digest and
// the RFC 2253 subject (Envoy prints it with XN_FLAG_RFC2253, which is what
// -nameopt RFC2253 selects).
func TestFromCertificatesAgainstOpenSSL(t *testing.T) {
	openssl := testtool.Need(t, "openssl")
	leaf, ca := newCert(t, pkix.Name{CommonName: "Test Client", OrganizationalUnit: []string{"Lyft"},
		Organization: []string{"Acme, Inc."}, Locality: []string{"San Francisco"}, Country: []string{"US"}})
	info := cert.NewInfo(leaf)
	e := FromCertificates([]*x509.Certificate{leaf, ca}, info.Subject, AllDetails([]string{"spiffe://example.org/edge"}))
	v := Format(e)
	back, err := Parse(v)
	require.NoError(t, err)
	require.Len(t, back, 1)
	got := back[0]

	dir := t.TempDir()
	der := filepath.Join(dir, "leaf.der")
	require.NoError(t, os.WriteFile(der, leaf.Raw, 0o600))
	run := func(args ...string) string {
		out, err := exec.Command(openssl, args...).Output()
		require.NoError(t, err, "openssl %v", args)
		return string(out)
	}
	assert.Equal(t, run("x509", "-inform", "DER", "-in", der, "-outform", "PEM"), got.Cert)
	fp := run("x509", "-inform", "DER", "-in", der, "-noout", "-fingerprint", "-sha256")
	fp = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(fp[strings.IndexByte(fp, '=')+1:]), ":", ""))
	assert.Equal(t, fp, got.Hash)
	subj := run("x509", "-inform", "DER", "-in", der, "-noout", "-subject", "-nameopt", "RFC2253")
	assert.Equal(t, strings.TrimSpace(strings.TrimPrefix(subj, "subject=")), got.Subject)
	assert.Equal(t, []string{"spiffe://example.org/ns/default/sa/client"}, got.URI)
	assert.Equal(t, []string{"client.example", "www.client.example"}, got.DNS)
	assert.Equal(t, []string{"spiffe://example.org/edge"}, got.By)
	certs, err := got.Certificates()
	require.NoError(t, err)
	require.Len(t, certs, 2)
	assert.Equal(t, leaf.Raw, certs[0].Raw)
	assert.Equal(t, ca.Raw, certs[1].Raw)
	assert.True(t, strings.HasPrefix(v, `By=spiffe://example.org/edge;Hash=`+fp+`;Cert="-----BEGIN%20CERTIFICATE-----%0A`), v)
	assert.Contains(t, v, `;Subject="CN=Test Client,OU=Lyft,O=Acme\, Inc.,L=San Francisco,C=US";URI=spiffe://example.org/ns/default/sa/client;DNS=client.example;DNS=www.client.example`)
}

func TestEmpty(t *testing.T) {
	assert.Equal(t, Element{}, FromCertificates(nil, "", AllDetails(nil)))
	e := FromCertificates([]*x509.Certificate{{Raw: []byte{1}}}, "", Options{URI: true})
	assert.Equal(t, "Hash=4bf5122f344554c53bde2ebb8cd2b7e3d1600ad631c385a5d7cce23c7785459a;URI=", Format(e))
}
