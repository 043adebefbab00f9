package nssdb

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// openReadOnly opens an SQLite file so that a live database (Firefox and
// Chrome keep theirs open) is never changed or locked: mode=ro refuses
// writes, immutable=1 tells SQLite the file cannot change under it, so it
// takes no locks and creates no -wal, -shm or -journal file, and query_only
// is a second guard inside the connection.
func openReadOnly(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", fileURI(path)+"?mode=ro&immutable=1&_pragma=query_only(1)")
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	// One connection: the reads are sequential and each extra connection
	// would parse the schema again.
	db.SetMaxOpenConns(1)
	return db, nil
}

// fileURI turns a filesystem path into an SQLite URI filename. Only the
// characters that URI parsing gives meaning to are escaped.
func fileURI(path string) string {
	p, err := filepath.Abs(path)
	if err != nil {
		p = path
	}
	p = filepath.ToSlash(p)
	if !strings.HasPrefix(p, "/") { // a Windows drive path, C:/x
		p = "/" + p
	}
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return "file://" + r.Replace(p)
}

// columns returns the set of column names of table, so queries can name
// only the attributes this database's NSS version created.
func columns(ctx context.Context, db *sql.DB, table string) (map[string]bool, error) {
	rows, err := db.QueryContext(ctx, "SELECT name FROM pragma_table_info(?)", table)
	if err != nil {
		return nil, fmt.Errorf("listing columns of %s: %w", table, err)
	}
	defer rows.Close()
	cols := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("listing columns of %s: %w", table, err)
		}
		cols[strings.ToLower(name)] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing columns of %s: %w", table, err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("no table %s: not an NSS database", table)
	}
	return cols, nil
}

// selectList names each wanted column, or NULL where the table lacks it
// (older NSS versions have fewer attribute columns).
func selectList(cols map[string]bool, want ...string) string {
	parts := make([]string, len(want))
	for i, w := range want {
		if cols[w] {
			parts[i] = w
		} else {
			parts[i] = "NULL"
		}
	}
	return strings.Join(parts, ", ")
}
