package vtable

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/osquery/osquery-go/plugin/table"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/tables"
)

// TestShellIsReadOnly: every way to write through the standalone shell is
// refused with a clear error, and a real database named in ATTACH is left
// untouched; queries still work.
func TestShellIsReadOnly(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "cert9.db")
	w, err := sql.Open("sqlite", victim)
	require.NoError(t, err)
	_, err = w.Exec("CREATE TABLE nssPublic (id PRIMARY KEY, a0); INSERT INTO nssPublic VALUES (1, x'00000001')")
	require.NoError(t, err)
	require.NoError(t, w.Close())
	before, err := os.ReadFile(victim)
	require.NoError(t, err)

	tbl := tables.Table{
		Name:    "t",
		Columns: []table.ColumnDefinition{table.TextColumn("x")},
		Generate: tables.Collected(func(context.Context, table.QueryContext) ([]map[string]string, error) {
			return []map[string]string{{"x": "1"}}, nil
		}),
	}
	db, err := Open(context.Background(), []tables.Table{tbl})
	require.NoError(t, err)
	defer db.Close()

	for _, q := range []string{
		"ATTACH '" + victim + "' AS s",
		"ATTACH 'file:" + victim + "?mode=rw' AS s",
		"DELETE FROM s.nssPublic",
		"VACUUM INTO '" + filepath.Join(dir, "copy.db") + "'",
		"VACUUM",
		"PRAGMA writable_schema = 1",
		"PRAGMA journal_mode = WAL",
		"PRAGMA temp_store_directory = '/tmp'",
		"CREATE TABLE x (a)",
		"CREATE TEMP TABLE x (a)",
		"CREATE TEMP VIEW v AS SELECT 1",
		"CREATE VIRTUAL TABLE v2 USING t",
		"INSERT INTO t (x) VALUES ('y')",
		"UPDATE t SET x = 'z'",
		"DELETE FROM t",
		"DROP TABLE t",
		"ALTER TABLE t RENAME TO u",
		"BEGIN",
		"SAVEPOINT a",
		"ANALYZE",
	} {
		_, err := db.Exec(q)
		require.Error(t, err, q)
		assert.Regexp(t, `not authorized|authorization denied|no such table: s\.`, err.Error(), q)
	}
	after, err := os.ReadFile(victim)
	require.NoError(t, err)
	assert.Equal(t, before, after, "the attached database is untouched")
	_, err = os.Stat(filepath.Join(dir, "copy.db"))
	assert.ErrorIs(t, err, os.ErrNotExist, "VACUUM INTO wrote nothing")

	// Reading still works: SELECT, functions, recursive CTEs, introspection.
	for _, q := range []string{
		"SELECT x, upper(x), count(*) FROM t GROUP BY x",
		"WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 3) SELECT sum(n) FROM c",
		"SELECT name FROM pragma_table_info('t')",
		"PRAGMA table_info(t)",
	} {
		rows, err := db.Query(q)
		require.NoError(t, err, q)
		require.True(t, rows.Next(), q)
		require.NoError(t, rows.Close())
	}
}
