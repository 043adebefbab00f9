package vtable_test

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"strconv"
	"sync"
	"testing"

	"github.com/osquery/osquery-go/plugin/table"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/tables"
	"github.com/certsight/certsight/tables/vtable"
)

// recorder is a table over fixed rows that records each QueryContext.
type recorder struct {
	mu    sync.Mutex
	calls []table.QueryContext
}

func (r *recorder) constraints() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]string
	for _, qc := range r.calls {
		var got []string
		for name, cl := range qc.Constraints {
			for _, c := range cl.Constraints {
				got = append(got, name+" "+opName(c.Operator)+" "+c.Expression)
			}
		}
		sort.Strings(got)
		out = append(out, got)
	}
	return out
}

func opName(o table.Operator) string {
	switch o {
	case table.OperatorEquals:
		return "="
	case table.OperatorLike:
		return "LIKE"
	case table.OperatorGlob:
		return "GLOB"
	}
	return "?"
}

var fileRows = []map[string]string{
	{"path": "/a/one.pem", "name": "one", "size": "10", "ratio": "0.5"},
	{"path": "/a/two.pem", "name": "two", "size": "20"},
	{"path": "/b/three.der", "name": "three", "size": "", "ratio": "x"},
}

func filesTable(r *recorder) tables.Table {
	return tables.Table{
		Name: "files",
		Columns: []table.ColumnDefinition{
			table.TextColumn("path", table.IndexColumn()),
			table.TextColumn("name"),
			table.BigIntColumn("size"),
			table.DoubleColumn("ratio"),
			table.TextColumn("secret", table.HiddenColumn(), table.IndexColumn()),
		},
		Generate: tables.Collected(func(_ context.Context, qc table.QueryContext) ([]map[string]string, error) {
			r.mu.Lock()
			r.calls = append(r.calls, qc)
			r.mu.Unlock()
			return fileRows, nil // everything, always: SQLite must re-filter
		}),
	}
}

func open(t *testing.T, ts ...tables.Table) *sql.DB {
	t.Helper()
	db, err := vtable.Open(context.Background(), ts)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func query(t *testing.T, db *sql.DB, q string) [][]any {
	t.Helper()
	rows, err := db.Query(q)
	require.NoError(t, err, q)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		out = append(out, vals)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestPushDown(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sql       string
		wantRows  [][]any
		wantCalls [][]string
	}{
		{"no WHERE hands down nothing", "SELECT name FROM files",
			[][]any{{"one"}, {"two"}, {"three"}}, [][]string{nil}},
		{"path = is handed down and SQLite re-filters",
			"SELECT name FROM files WHERE path = '/a/two.pem'",
			[][]any{{"two"}}, [][]string{{"path = /a/two.pem"}}},
		{"IN calls generate once per value, as osquery does for a column that is not optimized",
			"SELECT name FROM files WHERE path IN ('/a/one.pem', '/b/three.der') ORDER BY name",
			[][]any{{"one"}, {"three"}}, [][]string{{"path = /a/one.pem"}, {"path = /b/three.der"}}},
		{"LIKE is handed down with the LIKE operator",
			"SELECT name FROM files WHERE path LIKE '/a/%' ORDER BY name",
			[][]any{{"one"}, {"two"}}, [][]string{{"path LIKE /a/%"}}},
		{"GLOB is handed down",
			"SELECT name FROM files WHERE path GLOB '/b/*'",
			[][]any{{"three"}}, [][]string{{"path GLOB /b/*"}}},
		{"a column that is not pushed is filtered by SQLite only",
			"SELECT path FROM files WHERE name = 'two'",
			[][]any{{"/a/two.pem"}}, [][]string{nil}},
		{"integer columns compare as integers; empty is NULL",
			"SELECT name FROM files WHERE size > 15",
			[][]any{{"two"}}, [][]string{nil}},
		{"ORDER BY on a converted column",
			"SELECT name, size FROM files ORDER BY size DESC",
			[][]any{{"two", int64(20)}, {"one", int64(10)}, {"three", nil}}, [][]string{nil}},
		{"doubles convert; unparsable is NULL",
			"SELECT name, ratio FROM files ORDER BY name",
			[][]any{{"one", 0.5}, {"three", nil}, {"two", nil}}, [][]string{nil}},
		{"a hidden column is left out of SELECT * but still constrainable",
			"SELECT * FROM files WHERE secret = 's' LIMIT 1",
			nil, [][]string{{"secret = s"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			db := open(t, filesTable(r))
			assert.Equal(t, tc.wantRows, query(t, db, tc.sql))
			assert.Equal(t, tc.wantCalls, r.constraints())
		})
	}
}

func TestSelectStarColumns(t *testing.T) {
	db := open(t, filesTable(&recorder{}))
	rows, err := db.Query("SELECT * FROM files")
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	assert.Equal(t, []string{"path", "name", "size", "ratio"}, cols, "hidden column excluded")
}

func TestQueryContextIsOsqueryShaped(t *testing.T) {
	r := &recorder{}
	db := open(t, filesTable(r))
	query(t, db, "SELECT name FROM files WHERE path = '/x'")
	require.Len(t, r.calls, 1)
	qc := r.calls[0]
	assert.Len(t, qc.Constraints, 5, "every column is listed, as osquery sends it")
	assert.Equal(t, table.ColumnTypeBigInt, qc.Constraints["size"].Affinity)
	assert.Equal(t, []table.Constraint{{Operator: table.OperatorEquals, Expression: "/x"}}, qc.Constraints["path"].Constraints)
	assert.Empty(t, qc.Constraints["name"].Constraints)
}

func TestJoinOfTwoScans(t *testing.T) {
	r := &recorder{}
	db := open(t, filesTable(r))
	got := query(t, db, `SELECT a.name, b.name FROM files a JOIN files b ON b.path = a.path
		WHERE a.path LIKE '/a/%' ORDER BY a.name`)
	assert.Equal(t, [][]any{{"one", "one"}, {"two", "two"}}, got)
	// The inner scan receives the outer row's path, once per outer row.
	calls := r.constraints()
	assert.Contains(t, calls, []string{"path LIKE /a/%"})
	assert.Contains(t, calls, []string{"path = /a/one.pem"})
	assert.Contains(t, calls, []string{"path = /a/two.pem"})
}

func TestRequiredColumn(t *testing.T) {
	tbl := tables.Table{
		Name:    "needs_path",
		Columns: []table.ColumnDefinition{table.TextColumn("path", table.RequiredColumn())},
		Generate: tables.Collected(func(_ context.Context, qc table.QueryContext) ([]map[string]string, error) {
			return []map[string]string{{"path": qc.Constraints["path"].Constraints[0].Expression}}, nil
		}),
	}
	db := open(t, tbl)
	assert.Equal(t, [][]any{{"/p"}}, query(t, db, "SELECT path FROM needs_path WHERE path = '/p'"))
	_, err := db.Query("SELECT path FROM needs_path")
	require.ErrorContains(t, err, "without a required column")
}

func TestGenerateErrorFailsQuery(t *testing.T) {
	tbl := tables.Table{
		Name:    "broken",
		Columns: []table.ColumnDefinition{table.TextColumn("x")},
		Generate: tables.Collected(func(context.Context, table.QueryContext) ([]map[string]string, error) {
			return nil, assert.AnError
		}),
	}
	db := open(t, tbl)
	_, err := db.Query("SELECT x FROM broken")
	require.Error(t, err)
}

func TestTwoDatabasesAreIndependent(t *testing.T) {
	r1, r2 := &recorder{}, &recorder{}
	db1 := open(t, filesTable(r1))
	db2 := open(t, filesTable(r2))
	query(t, db1, "SELECT * FROM files")
	query(t, db2, "SELECT * FROM files")
	query(t, db2, "SELECT * FROM files")
	assert.Len(t, r1.calls, 1)
	assert.Len(t, r2.calls, 2)
}

// counter is a streaming table of n rows (n = 0, 1, ...) that records how
// many rows it emitted and how its last run ended.
type counter struct {
	mu       sync.Mutex
	emitted  int
	emitErr  error
	deadline bool
	failAt   int // fail after this many rows; -1 never
}

func (c *counter) table(n int) tables.Table {
	return tables.Table{
		Name:    "counter",
		Columns: []table.ColumnDefinition{table.BigIntColumn("n"), table.TextColumn("k", table.IndexColumn())},
		Generate: func(ctx context.Context, _ table.QueryContext) tables.Rows {
			return func(yield func(map[string]string, error) bool) {
				_, hasDeadline := ctx.Deadline()
				c.mu.Lock()
				c.emitted, c.emitErr, c.deadline = 0, nil, hasDeadline
				c.mu.Unlock()
				for i := range n {
					if i == c.failAt {
						yield(nil, errors.New("store exploded"))
						return
					}
					more := yield(map[string]string{"n": strconv.Itoa(i)}, nil)
					c.mu.Lock()
					c.emitted++
					if !more {
						c.emitErr = errors.New("stopped")
					}
					c.mu.Unlock()
					if !more {
						return
					}
				}
			}
		},
	}
}

func TestStreamingRowsStopWithSQLite(t *testing.T) {
	c := &counter{failAt: -1}
	db := open(t, c.table(10000))

	got := query(t, db, "SELECT n FROM counter LIMIT 3")
	assert.Equal(t, [][]any{{int64(0)}, {int64(1)}, {int64(2)}}, got)
	c.mu.Lock()
	assert.LessOrEqual(t, c.emitted, 4, "the producer is stopped when SQLite needs no more rows")
	assert.Error(t, c.emitErr, "and learns it through yield returning false")
	assert.True(t, c.deadline, "Stream runs under the table's deadline")
	c.mu.Unlock()

	got = query(t, db, "SELECT count(*), sum(n) FROM counter")
	assert.Equal(t, [][]any{{int64(10000), int64(10000 * 9999 / 2)}}, got)
	c.mu.Lock()
	assert.Equal(t, 10000, c.emitted)
	assert.NoError(t, c.emitErr)
	c.mu.Unlock()

	got = query(t, db, "SELECT k, count(*) FROM counter WHERE k IN ('a', 'b') GROUP BY k")
	assert.Empty(t, got, "k is NULL in every row; each IN value ran its own stream to the end")
}

func TestStreamingErrorFailsTheQuery(t *testing.T) {
	for _, failAt := range []int{0, 5} {
		t.Run(strconv.Itoa(failAt), func(t *testing.T) {
			c := &counter{failAt: failAt}
			db := open(t, c.table(10))
			rows, err := db.Query("SELECT n FROM counter")
			if err == nil {
				for rows.Next() {
				}
				err = rows.Err()
				rows.Close()
			}
			require.Error(t, err, "a failure mid-stream never passes for a shorter answer")
			if failAt == 0 {
				// modernc's xNext carries no message, so only an error before
				// the first row (the usual case: the query means nothing) says why.
				assert.Contains(t, err.Error(), "store exploded")
			}
		})
	}
}

func TestStreamingJoinRunsTwoProducers(t *testing.T) {
	c := &counter{failAt: -1}
	db := open(t, c.table(50))
	got := query(t, db, "SELECT count(*) FROM counter a JOIN counter b ON b.n = a.n + 1")
	assert.Equal(t, [][]any{{int64(49)}}, got)
}
