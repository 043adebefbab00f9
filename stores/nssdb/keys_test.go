package nssdb

import (
	"context"
	"crypto/rsa"
	"database/sql"
	"encoding/asn1"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testnss"
	"github.com/certsight/certsight/internal/testtool"
	"github.com/certsight/certsight/stores"
)

// The certutil/pk12util-made fixtures: with the empty password every key
// is decrypted and checked (matched); with a password, the clear public
// half matches but the private half stays encrypted (locked).
func TestKeyStatesOfCertutilDatabases(t *testing.T) {
	want := map[string]map[string]stores.KeyMatch{
		"basic": {"Test CA": stores.KeyMatched, "Client RSA": stores.KeyMatched, "Client EC": stores.KeyMatched,
			"EC CA": stores.KeyMatched, "Client Delegated": stores.KeyMatched, "P12 Imported": stores.KeyMatched,
			"P12 EC": stores.KeyMatched, "Ext P": stores.KeyAbsent, "Ext CT": stores.KeyAbsent},
		"password": {"PW CA": stores.KeyLocked, "PW Client EC": stores.KeyLocked, "P12 Imported": stores.KeyLocked,
			"PW Ext P": stores.KeyAbsent},
	}
	for db, labels := range want {
		t.Run(db, func(t *testing.T) {
			res := read(t, filepath.Join("testdata", db))
			require.Empty(t, res.Errors)
			m := byLabel(res)
			for label, k := range labels {
				assert.Equal(t, k, m[label].Key, "%s: %s", label, m[label].KeyNote)
			}
			if db == "password" {
				assert.Contains(t, m["PW CA"].KeyNote, "the database has a password")
			}
		})
	}
}

// idOf returns the hex CKA_ID of the certificate labelled label.
func idOf(t *testing.T, dir, label string) string {
	t.Helper()
	for _, e := range read(t, dir).Entries {
		if e.Label == label {
			// NSS's CKA_ID for RSA is SHA-1 of the modulus; read the stored one.
			db, err := openTestDB(filepath.Join(dir, CertDBName))
			require.NoError(t, err)
			defer db.Close()
			var id []byte
			require.NoError(t, db.QueryRow("SELECT a102 FROM nssPublic WHERE a0 = x'00000001' AND a3 = ?", []byte(label)).Scan(&id))
			return hex.EncodeToString(id)
		}
	}
	t.Fatalf("no certificate %q", label)
	return ""
}

func modulusOf(t *testing.T, dir, label string) string {
	t.Helper()
	for _, e := range read(t, dir).Entries {
		if e.Label == label {
			return hex.EncodeToString(e.Certificate.PublicKey.(*rsa.PublicKey).N.Bytes())
		}
	}
	t.Fatalf("no certificate %q", label)
	return ""
}

// Key presence cannot be faked by whoever can write key4.db: a link, a copied
// public half, or another key's private half never reads as matched.
func TestForgedKeyObjects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		db    string
		label string
		edit  func(t *testing.T, dir string) []string // SQL on key4.db
		cert  func(t *testing.T, dir string) []string // SQL on cert9.db
		want  stores.KeyMatch
		note  string
	}{
		{name: "a key object holding only the CKA_ID is absent", db: "basic", label: "Client RSA",
			edit: func(t *testing.T, dir string) []string {
				return []string{"UPDATE nssPrivate SET a120 = NULL, a123 = NULL, a124 = NULL, a125 = NULL, a126 = NULL, " +
					"a127 = NULL, a128 = NULL, ad5a0db00 = NULL WHERE a102 = x'" + idOf(t, dir, "Client RSA") + "'"}
			},
			want: stores.KeyAbsent, note: "holds no private key material"},
		{name: "a copied public half over another key's private half is a mismatch", db: "basic", label: "Ext P",
			edit: func(t *testing.T, dir string) []string {
				return []string{"INSERT INTO nssPrivate (id, a0, a100, a102, a120, a124, a125) SELECT 7, a0, a100, x'" +
					idOf(t, dir, "Ext P") + "', x'" + modulusOf(t, dir, "Ext P") + "', a124, a125 FROM nssPrivate WHERE a102 = x'" +
					idOf(t, dir, "Client RSA") + "'"}
			},
			want: stores.KeyMismatch, note: "does not belong to its own public half"},
		{name: "a copied public half with junk for the private half is linked", db: "basic", label: "Ext P",
			edit: func(t *testing.T, dir string) []string {
				return []string{"INSERT INTO nssPrivate (id, a0, a100, a102, a120, a124, a125) VALUES (7, x'00000003', x'00000000', x'" +
					idOf(t, dir, "Ext P") + "', x'" + modulusOf(t, dir, "Ext P") + "', x'3000', x'3000')"}
			},
			want: stores.KeyLinked, note: "does not decrypt"},
		{name: "a certificate pointed at another certificate's key object is a mismatch", db: "basic", label: "Ext P",
			cert: func(t *testing.T, dir string) []string {
				return []string{"UPDATE nssPublic SET a102 = x'" + idOf(t, dir, "Client RSA") + "' WHERE a3 = CAST('Ext P' AS BLOB)"}
			},
			want: stores.KeyMismatch, note: "belongs to another public key"},
		{name: "an EC key object whose point is changed is a mismatch", db: "basic", label: "Client EC",
			edit: func(t *testing.T, dir string) []string {
				return []string{"UPDATE nssPrivate SET ad5a0db00 = (SELECT ad5a0db00 FROM nssPrivate WHERE a102 = x'" +
					idOf(t, dir, "P12 EC") + "') WHERE a102 = x'" + idOf(t, dir, "Client EC") + "'"}
			},
			want: stores.KeyMismatch},
		{name: "password: a copied public half with junk encryption is locked, never matched", db: "password", label: "PW Ext P",
			edit: func(t *testing.T, dir string) []string {
				return []string{"INSERT INTO nssPrivate (id, a0, a100, a102, a120, a124, a125) VALUES (7, x'00000003', x'00000000', x'" +
					idOf(t, dir, "PW Ext P") + "', x'" + modulusOf(t, dir, "PW Ext P") + "', x'3000', x'3000')"}
			},
			want: stores.KeyLocked, note: "private half is encrypted"},
		{name: "password: encrypted blobs and no public half are linked", db: "password", label: "PW CA",
			edit: func(t *testing.T, dir string) []string {
				return []string{"UPDATE nssPrivate SET a120 = NULL, ad5a0db00 = NULL WHERE a102 = x'" + idOf(t, dir, "PW CA") + "'"}
			},
			want: stores.KeyLinked, note: "stores no public half"},
		{name: "password: another public half is a mismatch", db: "password", label: "PW CA",
			edit: func(t *testing.T, dir string) []string {
				return []string{"UPDATE nssPrivate SET a120 = x'" + modulusOf(t, dir, "PW Ext P") + "' WHERE a102 = x'" + idOf(t, dir, "PW CA") + "'"}
			},
			want: stores.KeyMismatch},
		{name: "an oversized attribute is not read", db: "basic", label: "Client RSA",
			edit: func(t *testing.T, dir string) []string {
				return []string{"UPDATE nssPrivate SET a124 = zeroblob(100000) WHERE a102 = x'" + idOf(t, dir, "Client RSA") + "'"}
			},
			want: stores.KeyLinked, note: "larger than"},
		{name: "a huge PBKDF2 iteration count is refused", db: "basic", label: "Client RSA",
			edit: func(t *testing.T, dir string) []string {
				// 020101 (1 iteration) → 0204 7fffffff in the PBKDF2 parameters: the DER grows by
				// 3 bytes, so it is rebuilt around the value rather than patched in place.
				return []string{"UPDATE nssPrivate SET a124 = x'" + hugeIterations(t, dir, "Client RSA") + "' WHERE a102 = x'" + idOf(t, dir, "Client RSA") + "'"}
			},
			want: stores.KeyLinked, note: "iteration count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, filepath.Join("testdata", tc.db))
			if tc.edit != nil {
				execSQL(t, filepath.Join(dir, KeyDBName), tc.edit(t, dir)...)
			}
			if tc.cert != nil {
				execSQL(t, filepath.Join(dir, CertDBName), tc.cert(t, dir)...)
			}
			res := read(t, dir)
			require.Empty(t, res.Errors)
			e := byLabel(res)[tc.label]
			assert.Equal(t, tc.want, e.Key, e.KeyNote)
			assert.Contains(t, e.KeyNote, tc.note)
			assert.False(t, e.Key.HasPrivateKey() && tc.want != stores.KeyMatched)
		})
	}
}

// hugeIterations returns label's encrypted first prime re-encoded with an
// iteration count of 2^31-1.
func hugeIterations(t *testing.T, dir, label string) string {
	t.Helper()
	db, err := openTestDB(filepath.Join(dir, KeyDBName))
	require.NoError(t, err)
	defer db.Close()
	id, err := hex.DecodeString(idOf(t, dir, label))
	require.NoError(t, err)
	var v []byte
	require.NoError(t, db.QueryRow("SELECT a124 FROM nssPrivate WHERE a102 = ?", id).Scan(&v))
	ev, err := reencodeIterations(v, 1<<31-1)
	require.NoError(t, err)
	return hex.EncodeToString(ev)
}

// An unreadable key4.db makes every key state unknown, never absent.
func TestUnreadableKeyDatabaseIsUnknown(t *testing.T) {
	dir := copyDir(t, filepath.Join("testdata", "basic"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, KeyDBName), []byte("garbage"), 0o600))
	res := read(t, dir)
	require.Len(t, res.Errors, 1)
	for _, e := range res.Entries {
		assert.Equal(t, stores.KeyUnknown, e.Key, e.Label)
		assert.Contains(t, e.KeyNote, KeyDBName+" could not be read")
	}
}

// Databases made at test time by the real tools: certutil -N with and
// without a password, a key pair made by openssl and imported by pk12util.
func TestKeyStatesLiveCertutil(t *testing.T) {
	certutil := testtool.Need(t, "certutil")
	pk12util := testtool.Need(t, "pk12util")
	openssl := testtool.Need(t, "openssl")
	work := t.TempDir()
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = work
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s %v: %s", name, args, out)
	}
	run(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes",
		"-keyout", "k.pem", "-out", "c.pem", "-subj", "/CN=live", "-days", "30")
	run(openssl, "pkcs12", "-export", "-inkey", "k.pem", "-in", "c.pem", "-name", "live", "-out", "c.p12", "-passout", "pass:p12")
	require.NoError(t, os.WriteFile(filepath.Join(work, "pw.txt"), []byte("db-password\n"), 0o600))
	for _, tc := range []struct {
		name string
		init []string
		imp  []string
		// dbm: made as a legacy key3.db, then upgraded to key4.db by
		// opening it as sql: for a write, which keeps the keys under the
		// PKCS #12 SHA-1/3DES scheme of NSS before 3.45.
		dbm  bool
		want stores.KeyMatch
	}{
		{"empty password", []string{"--empty-password"}, nil, false, stores.KeyMatched},
		{"password", []string{"-f", "pw.txt"}, []string{"-k", "pw.txt"}, false, stores.KeyLocked},
		{"upgraded from key3.db, empty password", []string{"--empty-password"}, nil, true, stores.KeyMatched},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(work, tc.name)
			require.NoError(t, os.Mkdir(db, 0o700))
			scheme := "sql:"
			if tc.dbm {
				scheme = "dbm:"
			}
			run(certutil, append([]string{"-N", "-d", scheme + db}, tc.init...)...)
			run(pk12util, append([]string{"-i", "c.p12", "-d", scheme + db, "-W", "p12"}, tc.imp...)...)
			if tc.dbm {
				// (A key3.db with a password is not upgraded this way: NSS 3.87
				// leaves key4.db without key objects until an update login.)
				run(certutil, "-M", "-n", "live", "-t", "u,u,u", "-d", "sql:"+db)
				require.FileExists(t, filepath.Join(db, KeyDBName), "the upgrade wrote key4.db")
				assertLegacyScheme(t, filepath.Join(db, KeyDBName))
			}
			res := stores.Collect(New(nil).Read(context.Background(), stores.Source{Path: db}))
			require.Empty(t, res.Errors)
			require.Len(t, res.Entries, 1)
			assert.Equal(t, tc.want, res.Entries[0].Key, res.Entries[0].KeyNote)
		})
	}
}

// assertLegacyScheme checks that a key4.db's private attributes are under
// pbeWithSHA1AndTripleDES-CBC (what the test means to exercise).
func assertLegacyScheme(t *testing.T, path string) {
	t.Helper()
	db, err := openTestDB(path)
	require.NoError(t, err)
	defer db.Close()
	var v []byte
	require.NoError(t, db.QueryRow("SELECT a11 FROM nssPrivate WHERE a11 IS NOT NULL LIMIT 1").Scan(&v))
	var ev encryptedValue
	_, err = asn1.Unmarshal(v, &ev)
	require.NoError(t, err)
	assert.Equal(t, oidPBESHA13DES.String(), ev.Alg.Algorithm.String())
}

// testnss's KeyMaterial databases (demo, packs and extension tests) read as
// matched where a key was written, and as absent for a bare link.
func TestKeyMaterialWrittenByNsswrite(t *testing.T) {
	certs, err := testnss.Synthetic(6)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, testnss.Create(context.Background(), dir, certs, testnss.Options{KeyMaterial: true}))
	res := read(t, dir)
	require.Empty(t, res.Errors)
	for i, e := range res.Entries {
		want := stores.KeyAbsent
		if certs[i].WithKey {
			want = stores.KeyMatched
		}
		assert.Equal(t, want, e.Key, "%s: %s", e.Label, e.KeyNote)
	}
}

// openTestDB opens a fixture database read-only for a test's own queries.
func openTestDB(path string) (*sql.DB, error) {
	return sql.Open("sqlite", "file:"+filepath.ToSlash(path)+"?mode=ro")
}
