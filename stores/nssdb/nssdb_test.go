package nssdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testnss"
	"github.com/certsight/certsight/stores"
)

func read(t *testing.T, path string) stores.Result {
	t.Helper()
	return stores.Collect(New(nil).Read(context.Background(), stores.Source{Path: path, Location: stores.LocationPath, Username: "alice"}))
}

func byLabel(res stores.Result) map[string]stores.Entry {
	m := map[string]stores.Entry{}
	for _, e := range res.Entries {
		m[e.Label] = e
	}
	return m
}

// exec runs SQL statements on a copied fixture (tests only; the reader
// never opens a database writable).
func execSQL(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	for _, s := range stmts {
		_, err := db.Exec(s)
		require.NoError(t, err, s)
	}
}

type fileState struct {
	size  int64
	mtime time.Time
	mode  os.FileMode
}

func dirSnapshot(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	m := map[string]fileState{}
	for _, de := range des {
		fi, err := de.Info()
		require.NoError(t, err)
		m[de.Name()] = fileState{fi.Size(), fi.ModTime(), fi.Mode()}
	}
	return m
}

func TestReadLeavesDatabaseUntouched(t *testing.T) {
	for _, name := range []string{"basic", "password"} {
		t.Run(name, func(t *testing.T) {
			dir := copyDir(t, filepath.Join("testdata", name))
			old := time.Now().Add(-time.Hour).Truncate(time.Second)
			for f := range dirSnapshot(t, dir) {
				require.NoError(t, os.Chtimes(filepath.Join(dir, f), old, old))
			}
			before := dirSnapshot(t, dir)
			res := read(t, dir)
			require.Empty(t, res.Errors)
			require.NotEmpty(t, res.Entries)
			assert.Equal(t, before, dirSnapshot(t, dir), "no file added (-wal, -shm, -journal), changed or touched")
		})
	}
}

// A database on which a writer holds an exclusive lock (as NSS does while
// committing) is still readable: immutable=1 takes no lock at all.
func TestReadWhileLockedByWriter(t *testing.T) {
	dir := copyDir(t, filepath.Join("testdata", "basic"))
	path := filepath.Join(dir, CertDBName)
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	conn, err := db.Conn(context.Background())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE")
	require.NoError(t, err)
	defer conn.ExecContext(context.Background(), "ROLLBACK") //nolint:errcheck

	// An ordinary reader is locked out, so the lock is real.
	other, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	require.NoError(t, err)
	defer other.Close()
	var n int
	require.Error(t, other.QueryRow("SELECT count(*) FROM nssPublic").Scan(&n), "plain reader should see SQLITE_BUSY")

	done := make(chan stores.Result, 1)
	go func() { done <- read(t, dir) }()
	select {
	case res := <-done:
		assert.Empty(t, res.Errors)
		assert.Len(t, res.Entries, 15)
	case <-time.After(10 * time.Second):
		t.Fatal("Read blocked on a locked database")
	}
}

func TestEntries(t *testing.T) {
	res := read(t, filepath.Join("testdata", "basic"))
	require.Empty(t, res.Errors)
	m := byLabel(res)
	ca := m["Test CA"]
	assert.Equal(t, stores.KindNSSDB, ca.Store)
	assert.Equal(t, stores.LocationPath, ca.Location)
	assert.Equal(t, filepath.Join("testdata", "basic"), ca.Path)
	assert.Equal(t, "alice", ca.Username)
	assert.Equal(t, "CN=Test CA,O=Example", ca.Info.Subject)
	assert.True(t, ca.Info.IsCA)
	assert.True(t, ca.Info.SelfSigned)
	assert.Equal(t, stores.KeyMatched, ca.Key, ca.KeyNote)
	assert.Contains(t, ca.KeyNote, "empty database password")
	assert.Equal(t, "CTu,Cu,Cu", ca.Trust)

	ec := m["Client EC"]
	assert.Equal(t, "ECDSA", ec.Info.KeyAlgorithm)
	assert.Equal(t, "P-256", ec.Info.KeyStrength)
	assert.True(t, ec.Key.HasPrivateKey())

	ext := m["Ext P"]
	assert.Equal(t, stores.KeyAbsent, ext.Key)
	assert.Empty(t, ext.KeyNote)
	assert.Equal(t, "P,,", ext.Trust)
}

func TestSourcePathForms(t *testing.T) {
	dir := filepath.Join("testdata", "basic")
	for _, p := range []string{dir, "sql:" + dir, filepath.Join(dir, CertDBName)} {
		res := read(t, p)
		assert.Empty(t, res.Errors, p)
		assert.Len(t, res.Entries, 15, p)
	}
}

func TestIsDatabaseDir(t *testing.T) {
	empty := t.TempDir()
	assert.True(t, IsDatabaseDir(filepath.Join("testdata", "basic")))
	assert.True(t, IsDatabaseDir("sql:"+filepath.Join("testdata", "basic")))
	assert.True(t, IsDatabaseDir(filepath.Join("testdata", "legacy")))
	assert.False(t, IsDatabaseDir(empty))
	assert.False(t, IsDatabaseDir("testdata"))
	assert.False(t, IsDatabaseDir(filepath.Join("testdata", "basic.L.txt")))
	require.NoError(t, os.Mkdir(filepath.Join(empty, CertDBName), 0o755))
	assert.False(t, IsDatabaseDir(empty), "a directory named cert9.db is not a database")
}

func TestWrongInputGivesClearErrors(t *testing.T) {
	notSQLite := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(notSQLite, CertDBName), []byte("-----BEGIN CERTIFICATE-----\n"), 0o600))
	otherSQLite := t.TempDir()
	execSQL(t, filepath.Join(otherSQLite, CertDBName), "CREATE TABLE moz_cookies (id INTEGER)")
	noValue := t.TempDir()
	execSQL(t, filepath.Join(noValue, CertDBName), "CREATE TABLE nssPublic (id, a0, a3)")

	cases := []struct {
		name, path, want string
		is               error
	}{
		{"legacy DBM directory", filepath.Join("testdata", "legacy"), "legacy DBM database is not supported", ErrLegacyDBM},
		{"legacy named with dbm:", "dbm:" + filepath.Join("testdata", "legacy"), "legacy DBM", ErrLegacyDBM},
		{"directory without database", t.TempDir(), "not an NSS database directory", nil},
		{"missing path", filepath.Join(t.TempDir(), "nope"), "not an NSS database directory", nil},
		{"cert9.db that is not SQLite", notSQLite, "cert9.db", nil},
		{"SQLite without nssPublic", otherSQLite, "no table nssPublic", nil},
		{"nssPublic without a11", noValue, "lacks column a11", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := read(t, tc.path)
			assert.Empty(t, res.Entries)
			require.Len(t, res.Errors, 1)
			var ie *stores.ItemError
			require.ErrorAs(t, res.Errors[0], &ie)
			assert.Equal(t, stores.KindNSSDB, ie.Store)
			assert.Contains(t, strings.ReplaceAll(res.Errors[0].Error(), " (cert8.db)", ""), tc.want)
			if tc.is != nil {
				assert.ErrorIs(t, res.Errors[0], tc.is)
			}
		})
	}
}

func TestMissingKeyDatabase(t *testing.T) {
	dir := copyDir(t, filepath.Join("testdata", "basic"))
	require.NoError(t, os.Remove(filepath.Join(dir, KeyDBName)))
	res := read(t, dir)
	assert.Empty(t, res.Errors)
	require.Len(t, res.Entries, 15)
	m := byLabel(res)
	assert.Equal(t, stores.KeyAbsent, m["Test CA"].Key)
	assert.Equal(t, "CT,C,C", m["Test CA"].Trust, "no u without the key")
	assert.Equal(t, ",,", m["Client EC"].Trust)
}

func TestCorruptKeyDatabaseStillListsCertificates(t *testing.T) {
	dir := copyDir(t, filepath.Join("testdata", "basic"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, KeyDBName), []byte("garbage"), 0o600))
	res := read(t, dir)
	assert.Len(t, res.Entries, 15)
	require.Len(t, res.Errors, 1)
	assert.Contains(t, res.Errors[0].Error(), KeyDBName)
}

// Bad rows become item errors; every other row is still returned.
func TestCorruptRows(t *testing.T) {
	dir := copyDir(t, filepath.Join("testdata", "basic"))
	execSQL(t, filepath.Join(dir, CertDBName),
		// a certificate whose DER is garbage
		"UPDATE nssPublic SET a11 = x'3003020101' WHERE a3 = CAST('Ext C' AS BLOB)",
		// a certificate type that is not a 4-byte CK_ULONG
		"UPDATE nssPublic SET a80 = x'0000' WHERE a3 = CAST('Ext p' AS BLOB)",
		// a certificate object without a value
		"INSERT INTO nssPublic (id, a0, a3) VALUES (1, x'00000001', CAST('Empty' AS BLOB))",
		// a trust value of the wrong size, for "Ext all"
		"UPDATE nssPublic SET ace536358 = x'ce5343' WHERE a0 = x'ce534353' AND a81 = (SELECT a81 FROM nssPublic WHERE a3 = CAST('Ext all' AS BLOB)) AND a82 = (SELECT a82 FROM nssPublic WHERE a3 = CAST('Ext all' AS BLOB))",
		// an X.509 attribute certificate (CKC_X_509_ATTR_CERT): skipped quietly
		"INSERT INTO nssPublic (id, a0, a3, a11, a80) VALUES (2, x'00000001', CAST('Attr' AS BLOB), x'3000', x'00000001')",
	)
	res := read(t, dir)
	m := byLabel(res)
	assert.Len(t, res.Entries, 13)
	assert.NotContains(t, m, "Ext C")
	assert.NotContains(t, m, "Ext p")
	assert.NotContains(t, m, "Attr")
	assert.Equal(t, ",,", m["Ext all"].Trust, "an unreadable trust object counts as none")
	assert.Equal(t, "CTu,Cu,Cu", m["Test CA"].Trust)
	var msgs []string
	for _, err := range res.Errors {
		var ie *stores.ItemError
		require.ErrorAs(t, err, &ie)
		msgs = append(msgs, err.Error())
	}
	joined := strings.Join(msgs, "\n")
	assert.Len(t, res.Errors, 4, joined)
	assert.Contains(t, joined, `"Ext C"`)
	assert.Contains(t, joined, "parsing certificate")
	assert.Contains(t, joined, "certificate type: CK_ULONG is 2 bytes")
	assert.Contains(t, joined, "no certificate value")
	assert.Contains(t, joined, "server auth trust: CK_ULONG is 3 bytes")
}

// Older NSS versions have fewer columns, newer ones more; only a0 and a11
// are required.
func TestToleratesMissingAndExtraColumns(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("testdata", "basic", CertDBName)
	path := filepath.Join(dir, CertDBName)
	execSQL(t, path,
		"ATTACH DATABASE 'file:"+filepath.ToSlash(mustAbs(t, src))+"?mode=ro' AS src",
		"CREATE TABLE nssPublic (id PRIMARY KEY, a0, a3, a11, a9999, afuture)",
		"INSERT INTO nssPublic SELECT id, a0, a3, a11, x'01', NULL FROM src.nssPublic WHERE a0 = x'00000001'",
	)
	res := read(t, dir)
	assert.Empty(t, res.Errors)
	require.Len(t, res.Entries, 15)
	m := byLabel(res)
	assert.Equal(t, ",,", m["Test CA"].Trust)
	assert.Equal(t, stores.KeyAbsent, m["Test CA"].Key)

	// The basic fixture plus the columns of a newer NSS still reads the same.
	dir2 := copyDir(t, filepath.Join("testdata", "basic"))
	execSQL(t, filepath.Join(dir2, CertDBName),
		"ALTER TABLE nssPublic ADD COLUMN a62c", "ALTER TABLE nssPublic ADD COLUMN a8c",
		"ALTER TABLE nssPublic ADD COLUMN a40000201")
	assert.Equal(t, trusts(read(t, filepath.Join("testdata", "basic"))), trusts(read(t, dir2)))
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	require.NoError(t, err)
	return a
}

func trusts(res stores.Result) map[string]string {
	m := map[string]string{}
	for _, e := range res.Entries {
		m[e.Label] = e.Trust
	}
	return m
}

// When a certificate has both trust classes (a newer NSS changed trust in
// an older database), the PKCS#11 3.2 object wins, as in NSS ≥ 3.114.
func TestBothTrustClassesPreferPKCS11(t *testing.T) {
	dir := copyDir(t, filepath.Join("testdata", "basic"))
	cols := []string{"a62c", "a62d", "a62e", "a62f", "a635", "a8c"}
	var stmts []string
	for _, c := range cols {
		stmts = append(stmts, "ALTER TABLE nssPublic ADD COLUMN "+c)
	}
	addTrust := func(label string, id int, server, client, code, email int) string {
		return fmt.Sprintf("INSERT INTO nssPublic (id, a0, a81, a82, a62c, a62d, a62e, a62f) "+
			"SELECT %d, x'0000000b', a81, a82, %s, %s, %s, %s FROM nssPublic WHERE a0 = x'00000001' AND a3 = CAST('%s' AS BLOB)",
			id, u32(server), u32(client), u32(code), u32(email), label)
	}
	stmts = append(stmts,
		addTrust("Ext C", 10, 3, 3, 3, 3),      // legacy says C,, — new says p,p,p
		addTrust("Ext none", 11, 1, 1, 4, 4),   // no legacy object — new says P,,
		addTrust("Test CA", 12, 2, 2, 4, 2),    // legacy CT,C,C — new CT,C,
		addTrust("Client RSA", 13, 4, 2, 0, 4), // T from client auth anchor
	)
	execSQL(t, filepath.Join(dir, CertDBName), stmts...)
	res := read(t, dir)
	require.Empty(t, res.Errors)
	got := trusts(res)
	assert.Equal(t, "p,p,p", got["Ext C"])
	assert.Equal(t, "P,,", got["Ext none"])
	assert.Equal(t, "CTu,Cu,u", got["Test CA"])
	assert.Equal(t, "Tu,u,u", got["Client RSA"])
	assert.Equal(t, "P,,", got["Ext P"], "certificates with only a legacy object keep it")
}

func u32(n int) string { return fmt.Sprintf("x'%08x'", n) }

func TestContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := stores.Collect(New(nil).Read(ctx, stores.Source{Path: filepath.Join("testdata", "basic")}))
	require.NotEmpty(t, res.Errors)
	found := false
	for _, err := range res.Errors {
		found = found || errors.Is(err, context.Canceled)
	}
	assert.True(t, found, "%v", res.Errors)
}

// Every trust string of the reference table survives testnss (certutil's
// write side) and the reader (NSS's read side), for both object classes.
func TestTrustRoundTrip(t *testing.T) {
	base, err := testnss.Synthetic(0)
	require.NoError(t, err)
	ca := base[0]
	// [certutil -t, shown with CKO_NSS_TRUST, shown with CKO_TRUST]
	table := [][3]string{
		{",,", ",,", ",,"}, {"p,p,p", "p,p,p", "p,p,p"}, {"P,,", "P,,", "P,,"}, {"C,,", "C,,", "C,,"},
		{"c,,", "c,,", ",,"}, {"T,,", "T,,", "T,,"}, {"CT,,", "CT,,", "CT,,"}, {",C,", ",C,", ",C,"},
		{",,C", ",,C", ",,C"}, {",,P", ",,P", ",,P"}, {"CT,C,C", "CT,C,C", "CT,C,C"},
		{"CTP,,", "CT,,", "CT,,"}, {"u,u,u", ",,", ",,"}, {"Cg,,", "CG,,", "C,,"},
	}
	for _, class := range []testnss.TrustClass{testnss.TrustNSS, testnss.TrustPKCS11, testnss.TrustBoth} {
		// One database per row: the trust object is keyed by the
		// certificate, so one certificate can carry only one trust.
		dir := t.TempDir()
		for i, row := range table {
			d := filepath.Join(dir, strconv.Itoa(i))
			c := ca
			c.Nickname, c.Trust, c.WithKey = "t", row[0], false
			require.NoError(t, testnss.Create(context.Background(), d, []testnss.Cert{c}, testnss.Options{Trust: class}))
			res := read(t, d)
			require.Empty(t, res.Errors)
			require.Len(t, res.Entries, 1)
			want := row[1]
			if class != testnss.TrustNSS {
				want = row[2]
			}
			assert.Equal(t, want, res.Entries[0].Trust, "class %d, -t %q", class, row[0])
		}
	}
}

// Without the stored issuer and serial (a writer that left them out), trust
// is matched by the certificate's own issuer and serial number.
func TestTrustMatchedWithoutStoredIssuerSerial(t *testing.T) {
	dir := copyDir(t, filepath.Join("testdata", "basic"))
	execSQL(t, filepath.Join(dir, CertDBName), "UPDATE nssPublic SET a81 = NULL, a82 = x'a5005a' WHERE a0 = x'00000001'")
	assert.Equal(t, trusts(read(t, filepath.Join("testdata", "basic"))), trusts(read(t, dir)))
}
