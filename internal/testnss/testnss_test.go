package testnss

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testtool"

	"github.com/certsight/certsight/internal/certdb"
)

// fixture is a database certutil made (see stores/nssdb/testdata/make.sh).
const fixture = "../../stores/nssdb/testdata/basic"

func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&immutable=1")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func schema(t *testing.T, path string) []string {
	t.Helper()
	rows, err := openDB(t, path).Query("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var typ, name, tbl string
		var s sql.NullString
		require.NoError(t, rows.Scan(&typ, &name, &tbl, &s))
		out = append(out, typ+" "+name+" "+tbl+" "+s.String)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestSchemaMatchesCertutil(t *testing.T) {
	certs, err := Synthetic(3)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, Create(context.Background(), dir, certs, Options{}))
	assert.Equal(t, schema(t, filepath.Join(fixture, "cert9.db")), schema(t, filepath.Join(dir, "cert9.db")))
	assert.Equal(t, schema(t, filepath.Join(fixture, "key4.db")), schema(t, filepath.Join(dir, "key4.db")))
	_, err = os.Stat(filepath.Join(dir, "pkcs11.txt"))
	assert.NoError(t, err)

	dir2 := t.TempDir()
	require.NoError(t, Create(context.Background(), dir2, certs, Options{Trust: TrustPKCS11}))
	s := strings.Join(schema(t, filepath.Join(dir2, "cert9.db")), "\n")
	assert.Contains(t, s, "a62c, a62d, a62e, a62f, a635, a8c)")
}

func TestCreateRefusesExisting(t *testing.T) {
	certs, err := Synthetic(1)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, Create(context.Background(), dir, certs, Options{}))
	err = Create(context.Background(), dir, certs, Options{})
	require.ErrorContains(t, err, "already exists")
}

func TestCreateRejectsBadInput(t *testing.T) {
	certs, err := Synthetic(1)
	require.NoError(t, err)
	bad := certs[1]
	bad.Trust = "X,,"
	assert.ErrorContains(t, Create(context.Background(), t.TempDir(), []Cert{bad}, Options{}), "unknown flag")
	assert.ErrorContains(t, Create(context.Background(), t.TempDir(), []Cert{{Nickname: "junk", DER: []byte{0x30, 0x00}}}, Options{}), `"junk"`)
}

// The CKA_ID the writer derives is the one certutil and pk12util stored for
// every certificate of the real fixture (RSA and EC, with and without key).
func TestKeyIDMatchesNSS(t *testing.T) {
	rows, err := openDB(t, filepath.Join(fixture, "cert9.db")).Query("SELECT a3, a11, a102 FROM nssPublic WHERE a0 = x'00000001'")
	require.NoError(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var label, der, id []byte
		require.NoError(t, rows.Scan(&label, &der, &id))
		c, err := x509.ParseCertificate(der)
		require.NoError(t, err)
		got, _, _, err := keyObjects(c)
		require.NoError(t, err)
		assert.Equal(t, id, got, string(label))
		n++
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, 15, n)
}

func TestParseTrust(t *testing.T) {
	cases := []struct {
		in   string
		want Trust
		err  string
	}{
		{",,", Trust{}, ""},
		{"CT,C,C", Trust{SSL: certdb.TrustedCA | certdb.TrustedClientCA | certdb.ValidCA, Email: certdb.TrustedCA | certdb.ValidCA, ObjectSigning: certdb.TrustedCA | certdb.ValidCA}, ""},
		{"P,p,c", Trust{SSL: certdb.Trusted | certdb.TerminalRecord, Email: certdb.TerminalRecord, ObjectSigning: certdb.ValidCA}, ""},
		{"u,wg,i", Trust{SSL: certdb.User, Email: certdb.SendWarn | certdb.GovtApprovedCA, ObjectSigning: certdb.InvisibleCA}, ""},
		{"C,C", Trust{}, "three"},
		{"Z,,", Trust{}, "unknown flag"},
	}
	for _, tc := range cases {
		got, err := ParseTrust(tc.in)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

// The stored trust values are those certutil -M -t stores (reference table,
// NSS 3.87 and NSS 3.124 columns).
func TestStoredTrustValues(t *testing.T) {
	cases := []struct {
		in          string
		nss, pkcs11 [4]uint32 // server, client, email, code signing
	}{
		{",,", [4]uint32{0x53, 0x53, 0x53, 0x53}, [4]uint32{4, 4, 4, 4}},
		{"p,p,p", [4]uint32{0x5a, 0x5a, 0x5a, 0x5a}, [4]uint32{3, 3, 3, 3}},
		{"P,,", [4]uint32{0x51, 0x51, 0x53, 0x53}, [4]uint32{1, 1, 4, 4}},
		{"C,,", [4]uint32{0x52, 0x5b, 0x53, 0x53}, [4]uint32{2, 4, 4, 4}},
		{"c,,", [4]uint32{0x5b, 0x5b, 0x53, 0x53}, [4]uint32{4, 4, 4, 4}},
		{"T,,", [4]uint32{0x5b, 0x52, 0x53, 0x53}, [4]uint32{4, 2, 4, 4}},
		{"CT,,", [4]uint32{0x52, 0x52, 0x53, 0x53}, [4]uint32{2, 2, 4, 4}},
		{",C,", [4]uint32{0x53, 0x53, 0x52, 0x53}, [4]uint32{4, 4, 2, 4}},
		{",,C", [4]uint32{0x53, 0x53, 0x53, 0x52}, [4]uint32{4, 4, 4, 2}},
		{",,P", [4]uint32{0x53, 0x53, 0x53, 0x51}, [4]uint32{4, 4, 4, 1}},
		{"CT,C,C", [4]uint32{0x52, 0x52, 0x52, 0x52}, [4]uint32{2, 2, 2, 2}},
	}
	for _, tc := range cases {
		tr, err := ParseTrust(tc.in)
		require.NoError(t, err)
		got := [4]uint32{stanLevelValue(tr.SSL, false, nssValue), stanLevelValue(tr.SSL, true, nssValue),
			stanLevelValue(tr.Email, false, nssValue), stanLevelValue(tr.ObjectSigning, false, nssValue)}
		for i := range got {
			got[i] &= 0xff
		}
		assert.Equal(t, tc.nss, got, "NSS trust for %q", tc.in)
		got = [4]uint32{stanLevelValue(tr.SSL, false, pkcs11Value), stanLevelValue(tr.SSL, true, pkcs11Value),
			stanLevelValue(tr.Email, false, pkcs11Value), stanLevelValue(tr.ObjectSigning, false, pkcs11Value)}
		assert.Equal(t, tc.pkcs11, got, "PKCS#11 trust for %q", tc.in)
	}
}

func stanLevelValue(f uint32, client bool, conv func(stanLevelT) uint32) uint32 {
	return conv(stanLevel(f, client))
}

// certutil itself reads a written database: nicknames, trust as the
// reference table says 3.87 shows it, `u` for certificates with keys.
func TestCertutilReadsWrittenDatabase(t *testing.T) {
	certutil := testtool.NeedNSSCertutil(t)
	base, err := Synthetic(12)
	require.NoError(t, err)
	want := map[string]string{}
	var certs []Cert
	for i, tc := range []struct{ trust, shown string }{
		{",,", ",,"}, {"p,p,p", "p,p,p"}, {"P,,", "P,,"}, {"C,,", "C,,"}, {"c,,", "c,,"}, {"T,,", "T,,"},
		{"CT,,", "CT,,"}, {",C,", ",C,"}, {",,P", ",,P"}, {"CT,C,C", "CT,C,C"}, {"", ",,"},
	} {
		c := base[i+1]
		c.Trust, c.WithKey = tc.trust, false
		certs = append(certs, c)
		want[c.Nickname] = tc.shown
	}
	ca := base[0] // root CA, "CT,C,C" with key
	certs = append(certs, ca)
	want[ca.Nickname] = "CTu,Cu,Cu"
	dir := t.TempDir()
	require.NoError(t, Create(context.Background(), dir, certs, Options{}))

	out, err := exec.Command(certutil, "-L", "-d", "sql:"+dir).Output()
	require.NoError(t, err)
	got := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " ")
		i := strings.LastIndexByte(line, ' ')
		if i < 0 || !strings.Contains(line[i+1:], ",") || strings.HasSuffix(line, "SSL,S/MIME,JAR/XPI") {
			continue
		}
		got[strings.TrimSpace(line[:i])] = line[i+1:]
	}
	assert.Equal(t, want, got)
}
