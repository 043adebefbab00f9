package tables_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testposture"
	"github.com/certsight/certsight/posture"
	"github.com/certsight/certsight/posture/identity"
	"github.com/certsight/certsight/stores/scan"
	"github.com/certsight/certsight/tables"
	"github.com/certsight/certsight/tables/vtable"
)

type postureRow struct {
	rule, reason, matchedPath, matchedSHA string
	passed                                sql.NullInt64
	candidates                            int
}

func openPosture(t *testing.T, configPath string, dev posture.Identity) *sql.DB {
	t.Helper()
	d := tables.Deps{Scanner: scan.New(nil), ConfigPath: configPath, Identity: dev}
	db, err := vtable.Open(t.Context(), []tables.Table{tables.CertPosture(d), tables.MTLSCertificates(d)})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func queryPosture(t *testing.T, db *sql.DB, q string, args ...any) []postureRow {
	t.Helper()
	rs, err := db.QueryContext(t.Context(), q, args...)
	require.NoError(t, err)
	defer rs.Close()
	var out []postureRow
	for rs.Next() {
		var r postureRow
		require.NoError(t, rs.Scan(&r.rule, &r.passed, &r.reason, &r.matchedPath, &r.matchedSHA, &r.candidates))
		out = append(out, r)
	}
	require.NoError(t, rs.Err())
	return out
}

const postureCols = "SELECT rule, passed, reason, matched_path, matched_sha256, candidates FROM cert_posture"

func checkPostureRow(t *testing.T, c testposture.Case, r postureRow) {
	t.Helper()
	t.Logf("passed=%v reason=%q", r.passed, r.reason)
	if !c.WantEvaluated {
		assert.False(t, r.passed.Valid, "passed is NULL for a rule that is not evaluated")
	} else {
		require.True(t, r.passed.Valid, "passed is set")
		assert.Equal(t, c.WantPassed, r.passed.Int64 == 1, "passed; reason: %s", r.reason)
	}
	if c.WantPassed {
		assert.Empty(t, r.reason)
		assert.Equal(t, c.WantMatchedPath, r.matchedPath)
		assert.Len(t, r.matchedSHA, 64)
		return
	}
	for _, w := range c.WantReason {
		assert.Contains(t, r.reason, w)
	}
}

func TestCertPostureMatrixFromConfig(t *testing.T) {
	for name, dev := range map[string]*identity.Device{
		"serial known":       identity.Fixed("host-1", "SN-1", nil),
		"serial unavailable": identity.Fixed("host-1", "", os.ErrNotExist),
	} {
		t.Run(name, func(t *testing.T) {
			f, cases := testposture.Build(t, dev)
			db := openPosture(t, f.ConfigFile, dev)
			rows := queryPosture(t, db, postureCols)
			require.Len(t, rows, len(cases))
			byRule := map[string]postureRow{}
			for _, r := range rows {
				byRule[r.rule] = r
			}
			for _, c := range cases {
				t.Run(c.Name, func(t *testing.T) {
					r, ok := byRule[c.Name]
					require.True(t, ok, "a row for rule %q", c.Name)
					checkPostureRow(t, c, r)
				})
			}
			// WHERE on an output column is applied by SQLite.
			failed := queryPosture(t, db, postureCols+" WHERE passed = 0")
			want := 0
			for _, c := range cases {
				if c.WantEvaluated && !c.WantPassed {
					want++
				}
			}
			assert.Len(t, failed, want)
		})
	}
}

func TestCertPostureMatrixInline(t *testing.T) {
	dev := identity.Fixed("host-1", "SN-1", nil)
	f, cases := testposture.Build(t, dev)
	// No config at all: inline rules need none.
	db := openPosture(t, filepath.Join(t.TempDir(), "absent.json"), dev)
	n := 0
	for _, c := range cases {
		if c.Inline == nil {
			continue
		}
		n++
		t.Run(c.Name, func(t *testing.T) {
			in := c.Inline
			where := []string{"ca_path = ?", "search_path = ?", "check_private_key = ?"}
			args := []any{in.CAPath, in.SearchPath, in.CheckPrivateKey}
			if in.CN != "" {
				where, args = append(where, "cn = ?"), append(args, in.CN)
			}
			if in.EKU != "" {
				where, args = append(where, "eku = ?"), append(args, in.EKU)
			}
			rows := queryPosture(t, db, postureCols+" WHERE "+strings.Join(where, " AND "), args...)
			require.Len(t, rows, 1)
			assert.Equal(t, posture.InlineRuleName, rows[0].rule)
			checkPostureRow(t, c, rows[0])
		})
	}
	assert.GreaterOrEqual(t, n, 15)

	// The example: only ca_path and search_path.
	rows := queryPosture(t, db, postureCols+" WHERE ca_path = ? AND search_path = ?", f.CAFile, filepath.Join(f.Dir, "good.pem"))
	require.Len(t, rows, 1)
	assert.Equal(t, int64(1), rows[0].passed.Int64, rows[0].reason)

	// search_path LIKE is read as a glob and the row survives re-filtering.
	rows = queryPosture(t, db, postureCols+" WHERE ca_path = ? AND search_path LIKE ? AND cn = 'device-1' AND check_private_key = 1",
		f.CAFile, filepath.Join(f.Dir, "multi", "%-good.pem"))
	require.Len(t, rows, 1)
	assert.Equal(t, int64(1), rows[0].passed.Int64, rows[0].reason)

	// Two CAs in an IN list: one row each.
	rows = queryPosture(t, db, postureCols+" WHERE ca_path IN (?, ?) AND search_path = ?",
		f.CAFile, filepath.Join(f.Dir, "no-such-ca.pem"), filepath.Join(f.Dir, "good.pem"))
	require.Len(t, rows, 2)
	reasons := rows[0].reason + rows[1].reason
	assert.Contains(t, reasons, "no-such-ca.pem does not exist")

	// An input without ca_path says what is missing.
	rows = queryPosture(t, db, postureCols+" WHERE search_path = ?", filepath.Join(f.Dir, "good.pem"))
	require.Len(t, rows, 1)
	assert.Contains(t, rows[0].reason, "needs ca_path")
}

func TestCertPostureConfigStates(t *testing.T) {
	dev := identity.Fixed("host-1", "SN-1", nil)
	path := filepath.Join(t.TempDir(), "posture.json")
	db := openPosture(t, path, dev)

	rows := queryPosture(t, db, postureCols)
	require.Len(t, rows, 1)
	assert.False(t, rows[0].passed.Valid)
	assert.Contains(t, rows[0].reason, "no posture config at "+path)
	assert.Empty(t, queryPosture(t, db, postureCols+" WHERE passed = 0"), "a missing config raises no failure")

	require.NoError(t, os.WriteFile(path, []byte(`{"rules": [{"name": "r", "input": {"locations": {"trust_stores": ["machine"]}}}]}`), 0o644))
	rows = queryPosture(t, db, postureCols)
	require.Len(t, rows, 1)
	assert.Equal(t, "r", rows[0].rule)
	assert.Equal(t, int64(0), rows[0].passed.Int64)
	assert.Contains(t, rows[0].reason, `rules[0].input.locations.trust_stores[0]: unknown value "machine" (want system or user)`)
	assert.Contains(t, rows[0].reason, `rules[0].input.check_private_key: required`)

	require.NoError(t, os.WriteFile(path, []byte(`{"rules": [`), 0o644))
	rows = queryPosture(t, db, postureCols)
	require.Len(t, rows, 1)
	assert.Equal(t, "", rows[0].rule)
	assert.Equal(t, int64(0), rows[0].passed.Int64)
	assert.Contains(t, rows[0].reason, "config "+path+": invalid JSON")

	var n int
	require.NoError(t, db.QueryRowContext(t.Context(), "SELECT count(*) FROM mtls_certificates WHERE reason LIKE 'config %invalid JSON%'").Scan(&n))
	assert.Equal(t, 1, n)
}

func TestMTLSCertificatesTable(t *testing.T) {
	dev := identity.Fixed("host-1", "SN-1", nil)
	f, _ := testposture.Build(t, dev)
	db := openPosture(t, f.ConfigFile, dev)
	var id, name, issuer, sig, serial, expires, uploaded, typ, reason string
	var ca int
	require.NoError(t, db.QueryRowContext(t.Context(),
		"SELECT id, name, ca, issuer, signature, serial_number, expires_on, uploaded_on, type, reason FROM mtls_certificates").
		Scan(&id, &name, &ca, &issuer, &sig, &serial, &expires, &uploaded, &typ, &reason))
	assert.Equal(t, f.CAID, id)
	assert.Equal(t, testposture.CAName, name)
	assert.Equal(t, 1, ca)
	assert.Equal(t, "CN=Posture Test CA,O=certsight tests,C=US", issuer)
	assert.Equal(t, "ECDSAWithSHA256", sig)
	assert.Regexp(t, `^[1-9][0-9]*$`, serial)
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`, expires)
	assert.Equal(t, "2026-01-02T03:04:05.000000Z", uploaded)
	assert.Equal(t, "custom", typ)
	assert.Empty(t, reason)

	// The id joins the rules.
	require.NoError(t, db.QueryRowContext(t.Context(),
		"SELECT count(*) FROM cert_posture p JOIN mtls_certificates m ON p.certificate_id = m.id").Scan(&ca))
	assert.Positive(t, ca)
}

func TestCertPostureColumns(t *testing.T) {
	p := tables.CertPosture(tables.Deps{}).Plugin()
	assert.Equal(t, "cert_posture", p.Name())
	ops := map[string]string{}
	for _, r := range p.Routes() {
		ops[r["name"]] = r["op"]
	}
	for _, c := range []string{"ca_path", "cn", "eku", "check_private_key", "search_path"} {
		assert.Equal(t, "20", ops[c], "%s is ADDITIONAL|HIDDEN", c) // osquery: ADDITIONAL=4, HIDDEN=16
	}
	assert.Equal(t, "0", ops["passed"])

	// SELECT * shows the outputs only.
	db := openPosture(t, filepath.Join(t.TempDir(), "absent.json"), identity.Fixed("h", "s", nil))
	rs, err := db.QueryContext(t.Context(), "SELECT * FROM cert_posture")
	require.NoError(t, err)
	cols, err := rs.Columns()
	require.NoError(t, err)
	rs.Close()
	assert.Equal(t, []string{"rule", "certificate_id", "operating_system", "passed", "reason", "expected_cn",
		"matched_sha256", "matched_path", "matched_store", "candidates"}, cols)
}
