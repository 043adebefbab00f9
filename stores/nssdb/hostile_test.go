package nssdb

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testnss"
	"github.com/certsight/certsight/stores"
)

// makeDB writes a database of n synthetic certificates (plus their CA).
func makeDB(t *testing.T, n int) string {
	t.Helper()
	certs, err := testnss.Synthetic(n - 1)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, testnss.Create(context.Background(), dir, certs, testnss.Options{}))
	return dir
}

// readWithin reads dir and fails the test if that takes longer than d.
func readWithin(t *testing.T, dir string, d time.Duration) stores.Result {
	t.Helper()
	done := make(chan stores.Result, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*d)
	defer cancel()
	go func() {
		done <- stores.Collect(New(nil).Read(ctx, stores.Source{Path: dir, Location: stores.LocationPath}))
	}()
	select {
	case res := <-done:
		return res
	case <-time.After(d):
		t.Fatalf("reading %s took longer than %s", dir, d)
		return stores.Result{}
	}
}

// TestFIFOsNeverBlock: a FIFO named key4.db or cert9.db (any user can put
// one in their own ~/.pki/nssdb) is refused at once, not opened.
func TestFIFOsNeverBlock(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no FIFOs")
	}
	dir := makeDB(t, 3)
	require.NoError(t, os.Remove(filepath.Join(dir, KeyDBName)))
	require.NoError(t, mkfifo(filepath.Join(dir, KeyDBName)))
	res := readWithin(t, dir, 10*time.Second)
	assert.Len(t, res.Entries, 3, "the certificates are still read")
	require.NotEmpty(t, res.Errors)
	assert.ErrorContains(t, res.Errors[0], "not a regular file")
	for _, e := range res.Entries {
		assert.Equal(t, stores.KeyUnknown, e.Key, "an unreadable key4.db makes the key state unknown, not absent")
	}

	require.NoError(t, os.Remove(filepath.Join(dir, CertDBName)))
	require.NoError(t, mkfifo(filepath.Join(dir, CertDBName)))
	res = readWithin(t, dir, 10*time.Second)
	assert.Empty(t, res.Entries)
	assert.NotEmpty(t, res.Errors)
}

// TestViewsAndBombsAreRefused: nssPublic or nssPrivate as a view (which
// may compute gigabytes per query), a table with generated columns, and
// values over the cap are refused with clear errors, cheaply.
func TestViewsAndBombsAreRefused(t *testing.T) {
	bomb := "SELECT 1 AS id, x'00000001' AS a0, zeroblob(400000000) AS a11"
	for _, tc := range []struct {
		name, db string
		stmts    []string
		want     string
	}{
		{"nssPublic is a view", CertDBName, []string{"DROP TABLE nssPublic", "CREATE VIEW nssPublic AS " + bomb}, "is a view"},
		{"nssPrivate is a view", KeyDBName, []string{"DROP TABLE nssPrivate", "CREATE VIEW nssPrivate AS " + bomb}, "is a view"},
		{"generated column", CertDBName, []string{"DROP TABLE nssPublic",
			"CREATE TABLE nssPublic (id PRIMARY KEY, a0, a3, a11 GENERATED ALWAYS AS (zeroblob(400000000)) VIRTUAL)",
			"INSERT INTO nssPublic (id, a0, a3) VALUES (1, x'00000001', 'x')"}, "generated columns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := makeDB(t, 2)
			execSQL(t, filepath.Join(dir, tc.db), tc.stmts...)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			res := readWithin(t, dir, 20*time.Second)
			runtime.ReadMemStats(&after)
			require.NotEmpty(t, res.Errors)
			found := false
			for _, err := range res.Errors {
				if assert.ObjectsAreEqual(true, containsStr(err.Error(), tc.want)) {
					found = true
				}
			}
			assert.True(t, found, "errors %v want %q", res.Errors, tc.want)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "refused without reading the bomb")
		})
	}

	t.Run("oversize value", func(t *testing.T) {
		dir := makeDB(t, 3)
		execSQL(t, filepath.Join(dir, CertDBName),
			fmt.Sprintf("UPDATE nssPublic SET a11 = zeroblob(%d) WHERE id = (SELECT min(id) FROM nssPublic WHERE a0 = x'00000001')", maxValue+1))
		res := readWithin(t, dir, 20*time.Second)
		assert.Len(t, res.Entries, 2, "the other rows are read")
		require.Len(t, res.Errors, 1)
		assert.ErrorContains(t, res.Errors[0], "larger than")
	})
}

func containsStr(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// TestEmptyOrBadHeaderIsAnError: a cert9.db that is empty or not SQLite is
// an error, never zero rows in silence.
func TestEmptyOrBadHeaderIsAnError(t *testing.T) {
	for name, data := range map[string][]byte{"empty": nil, "bad header": []byte("not a database at all, just text\n")} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, CertDBName), data, 0o644))
			res := read(t, dir)
			assert.Empty(t, res.Entries)
			require.Len(t, res.Errors, 1)
			assert.Error(t, res.Errors[0])
		})
	}
}

// TestWALRowsAreSeen: rows committed to a -wal that no checkpoint has
// folded into the database yet are read (through a private copy), and
// nothing is created beside the database.
func TestWALRowsAreSeen(t *testing.T) {
	dir := makeDB(t, 5)
	path := filepath.Join(dir, CertDBName)
	w, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=wal_autocheckpoint(0)")
	require.NoError(t, err)
	defer w.Close()
	w.SetMaxOpenConns(1)
	for _, s := range []string{
		"CREATE TEMP TABLE t AS SELECT * FROM nssPublic WHERE a0 = x'00000001'",
		"UPDATE t SET id = id + 10000000000",
		"INSERT INTO nssPublic SELECT * FROM t",
	} {
		_, err := w.Exec(s)
		require.NoError(t, err, s)
	}
	fi, err := os.Stat(path + "-wal")
	require.NoError(t, err)
	require.Positive(t, fi.Size(), "the rows are in the -wal only")
	before := dirSnapshot(t, dir)
	res := read(t, dir)
	assert.Empty(t, res.Errors)
	assert.Len(t, res.Entries, 10, "the committed rows of the -wal count")
	assert.Equal(t, before, dirSnapshot(t, dir), "nothing written beside the database")
}

// TestHotJournalIsRolledBack: a crashed writer's hot journal means the
// database file holds half a transaction; the read reflects the state
// before it (SQLite rolls the journal back in a private copy).
func TestHotJournalIsRolledBack(t *testing.T) {
	dir := makeDB(t, 40)
	path := filepath.Join(dir, CertDBName)
	crashed := t.TempDir()
	w, err := sql.Open("sqlite", path+"?_pragma=cache_size(1)")
	require.NoError(t, err)
	defer w.Close()
	w.SetMaxOpenConns(1)
	tx, err := w.Begin()
	require.NoError(t, err)
	// Enough changes that a 1-page cache spills them into the file before
	// the commit, with the originals in the journal.
	_, err = tx.Exec("UPDATE nssPublic SET a11 = zeroblob(3000) WHERE a0 = x'00000001'")
	require.NoError(t, err)
	for _, name := range []string{CertDBName, CertDBName + "-journal", KeyDBName} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err, name)
		require.NoError(t, os.WriteFile(filepath.Join(crashed, name), data, 0o644))
	}
	require.NoError(t, tx.Rollback())

	res := read(t, crashed)
	assert.Empty(t, res.Errors)
	assert.Len(t, res.Entries, 40, "the state before the crashed transaction")
}

// TestConcurrentWriterNeverTearsAReadOrEmptiesIt: while a writer commits
// transactions that double the certificates and take them away again,
// every read returns one committed state: all of the first, or all of the
// second, never zero and never a mix.
func TestConcurrentWriterNeverTearsAReadOrEmptiesIt(t *testing.T) {
	if testing.Short() {
		t.Skip("writer loop")
	}
	const n = 300
	dir := makeDB(t, n)
	path := filepath.Join(dir, CertDBName)
	w, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	defer w.Close()
	w.SetMaxOpenConns(1)
	_, err = w.Exec("CREATE TEMP TABLE t AS SELECT * FROM nssPublic WHERE a0 = x'00000001'")
	require.NoError(t, err)
	_, err = w.Exec("UPDATE t SET id = id + 10000000000")
	require.NoError(t, err)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	commits := 0
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := w.Exec("INSERT INTO nssPublic SELECT * FROM t"); err == nil {
				commits++
			}
			if _, err := w.Exec("DELETE FROM nssPublic WHERE id >= 10000000000"); err == nil {
				commits++
			}
		}
	})
	counts := map[int]int{}
	for range 30 {
		res := stores.Collect(New(nil).Read(context.Background(), stores.Source{Path: dir}))
		counts[len(res.Entries)]++
		if len(res.Entries) != n && len(res.Entries) != 2*n {
			t.Logf("errors: %v", res.Errors)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("reads by rows returned: %v over %d commits", counts, commits)
	for rows := range counts {
		assert.Contains(t, []int{n, 2 * n}, rows, "a read returned %d rows: not one committed state", rows)
	}
}
