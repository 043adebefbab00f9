package extension_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testnss"
	"github.com/certsight/certsight/internal/testpki"
)

// fixture is a tree of stores written at test time with crypto/x509 only.
type fixture struct {
	root    string
	certDir string // alice.crt+alice.key, bob.crt, server.crt, broken.pem
	caDir   string // ca.pem
	alice   string // alice.crt
	bob     string // bob.crt
	broken  string
	ca      *testpki.Cert
	leafs   map[string]*testpki.Cert
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	root := t.TempDir()
	f := &fixture{root: root, certDir: filepath.Join(root, "certs"), caDir: filepath.Join(root, "ca"), leafs: map[string]*testpki.Cert{}}
	require.NoError(t, os.Mkdir(f.certDir, 0o755))
	require.NoError(t, os.Mkdir(f.caDir, 0o755))
	var err error
	f.ca, err = testpki.Issue(nil, testpki.Options{Subject: pkix.Name{CommonName: "Fixture Root CA", Organization: []string{"certsight test"}}, IsCA: true})
	require.NoError(t, err)
	_, err = f.ca.WriteCert(f.caDir, "ca.pem")
	require.NoError(t, err)

	issue := func(cn string, eku ...x509.ExtKeyUsage) *testpki.Cert {
		c, err := f.ca.Issue(testpki.Options{Subject: pkix.Name{CommonName: cn}, EKU: eku, DNSNames: []string{cn + ".example"}})
		require.NoError(t, err)
		f.leafs[cn] = c
		return c
	}
	f.alice, _, err = issue("alice", x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection).WritePair(f.certDir, "alice")
	require.NoError(t, err)
	f.bob, err = issue("bob", x509.ExtKeyUsageClientAuth).WriteCert(f.certDir, "bob.crt")
	require.NoError(t, err)
	_, err = issue("server", x509.ExtKeyUsageServerAuth).WriteCert(f.certDir, "server.crt")
	require.NoError(t, err)
	f.broken = filepath.Join(f.certDir, "broken.pem")
	pemText := string(f.leafs["bob"].CertPEM())
	require.NoError(t, os.WriteFile(f.broken, []byte(pemText[:len(pemText)/2]), 0o644))
	return f
}

// osqueryContext builds the context JSON osquery sends with a generate call
// (TablePlugin::setRequestFromContext): every column listed, constrained or
// not, each constraint with its numeric operator.
func osqueryContext(t testing.TB, columns []string, constraints map[string][]op) string {
	t.Helper()
	type item struct {
		Op   int    `json:"op"`
		Expr string `json:"expr"`
	}
	type list struct {
		Name     string `json:"name"`
		List     []item `json:"list"`
		Affinity string `json:"affinity"`
	}
	var ctx struct {
		Constraints []list   `json:"constraints"`
		ColsUsed    []string `json:"colsUsed"`
	}
	for _, c := range columns {
		l := list{Name: c, List: []item{}, Affinity: "TEXT"}
		for _, o := range constraints[c] {
			l.List = append(l.List, item{Op: o.op, Expr: o.expr})
		}
		ctx.Constraints = append(ctx.Constraints, l)
	}
	ctx.ColsUsed = columns
	b, err := json.Marshal(ctx)
	require.NoError(t, err)
	return string(b)
}

type op struct {
	op   int
	expr string
}

// osquery operator codes (osquery/core/tables.h).
const (
	opEquals = 2
	opLike   = 65
)

// writeNSS writes an NSS database (cert9.db, key4.db) under root/nssdb with
// alice (key present, trust u,u,u) and the CA (trust CT,C,C), and returns
// its directory.
func (f *fixture) writeNSS(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(f.root, "nssdb")
	require.NoError(t, testnss.Create(context.Background(), dir, []testnss.Cert{
		{Nickname: "alice", DER: f.leafs["alice"].Cert.Raw, Trust: "u,u,u", WithKey: true, Key: f.leafs["alice"].Key},
		{Nickname: "Fixture Root CA", DER: f.ca.Cert.Raw, Trust: "CT,C,C"},
	}, testnss.Options{KeyMaterial: true}))
	return dir
}
