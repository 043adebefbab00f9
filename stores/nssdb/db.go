package nssdb

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"modernc.org/sqlite" // the pure-Go driver, registered as "sqlite"
	sqlitevfs "modernc.org/sqlite/vfs"

	"github.com/certsight/certsight/internal/fsafe"
)

// What one database may cost. Databases are files any user can write
// (~/.pki/nssdb, Firefox profiles), read by root on every query.
const (
	// directMax: a database up to this size is read in place, its rows
	// held until the read is known to be consistent.
	directMax = 8 << 20
	// copyMax: a larger database (or one with a -wal or hot journal) is
	// read through a private copy up to this size, database and side files
	// together; beyond it, in place, with a warning when it changed.
	copyMax = 512 << 20
	// maxValue caps one attribute value (a certificate is a few KiB).
	maxValue = 1 << 20
	// maxRows caps the rows of one query (a real database holds thousands).
	maxRows = 1 << 20
	// retries is how often a read that saw the database change is retried
	// before it goes through a private copy.
	retries = 3
	// copyRetries is how often a private copy that saw the database change
	// is made again (waits 10 ms, doubling: 1.27 s in all). More than the
	// in-place reads: it is the last way to one committed state, and under
	// a busy writer on a slow file system (Windows under Wine, measured) four
	// copies in a row could each overlap a commit.
	copyRetries = 7
)

// ErrInconsistent is wrapped by the warning for a read that could not be
// made to reflect one committed state of the database.
var ErrInconsistent = errors.New("the database changed while it was read; rows may be missing or torn")

// sqliteMagic starts every SQLite database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// journalMagic starts a rollback journal that holds a transaction: a hot
// journal (a writer is committing, or crashed while it did).
var journalMagic = []byte{0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7}

// dbState is what changes when a writer commits: SQLite's file change
// counter (header offset 24), the file's size, time and identity, and the
// side files.
type dbState struct {
	counter    uint32
	size       int64
	mtime      time.Time
	id         string
	hotJournal bool
	wal        int64
}

func stateOf(ctx context.Context, fsys fsafe.FS, path string) (dbState, error) {
	var st dbState
	fi, err := fsys.Stat(path)
	if err != nil {
		return st, err
	}
	st.size, st.mtime, st.id = fi.Size(), fi.ModTime(), fileID(fi)
	if hdr, err := fsys.ReadHead(ctx, path, 100); err == nil && len(hdr) >= 28 {
		st.counter = binary.BigEndian.Uint32(hdr[24:28])
	}
	if head, err := fsys.ReadHead(ctx, path+"-journal", int64(len(journalMagic))); err == nil {
		st.hotJournal = bytes.Equal(head, journalMagic)
	}
	if fi, err := fsys.Stat(path + "-wal"); err == nil && fi.Mode().IsRegular() {
		st.wal = fi.Size()
	}
	return st, nil
}

// snapshot is one open database and how far its read can be trusted.
type snapshot struct {
	db    *sql.DB
	close func()
	// inPlace reads go through the live file: verify before trusting rows.
	inPlace bool
	fsys    fsafe.FS
	path    string
	before  dbState
	// warn says why this read may not reflect one committed state.
	warn error
}

// changed reports whether the live file changed since the snapshot opened.
func (s *snapshot) changed(ctx context.Context) bool {
	if !s.inPlace {
		return false
	}
	now, err := stateOf(ctx, s.fsys, s.path)
	return err != nil || now != s.before
}

// openDB opens the SQLite file at path for reading without ever writing
// beside it (no -journal, -wal, -shm or lock file is created, nothing is
// locked): through fsafe (a FIFO, device or pseudo-file is refused, reads
// obey ctx) and SQLite's read-only VFS over that very descriptor, or
// through a private copy in a temporary directory when the database has a
// -wal to apply or a hot journal to roll back, is larger than directMax,
// or when copy is set (an in-place read kept seeing it change).
func openDB(ctx context.Context, fsys fsafe.FS, path string, copy bool) (*snapshot, error) {
	h, err := fsys.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	hdr := make([]byte, 100)
	n, _ := h.ReadAt(hdr, 0)
	switch {
	case h.Size() == 0:
		h.Close()
		return nil, fmt.Errorf("%s is empty", filepath.Base(path))
	case n < 100 || !bytes.HasPrefix(hdr, sqliteMagic):
		h.Close()
		return nil, fmt.Errorf("%s is not an SQLite database (bad header)", filepath.Base(path))
	}
	before, err := stateOf(ctx, fsys, path)
	if err != nil {
		h.Close()
		return nil, err
	}
	sideFiles := before.wal > 0 || before.hotJournal
	total := before.size + before.wal
	if (copy || sideFiles || before.size > directMax) && total <= copyMax {
		h.Close()
		return openCopy(ctx, fsys, path)
	}
	s := &snapshot{inPlace: true, fsys: fsys, path: path, before: before}
	if sideFiles {
		s.warn = fmt.Errorf("%w: %s has a -wal or hot journal and is too large (%d bytes) to read through a private copy",
			ErrInconsistent, filepath.Base(path), total)
	}
	db, closeVFS, err := openVFS(h)
	if err != nil {
		h.Close()
		return nil, err
	}
	s.db = db
	s.close = func() {
		db.Close()
		closeVFS()
		h.Close()
	}
	return s, nil
}

// vfsSeq names the files served through the read-only VFS.
var vfsSeq atomic.Uint64

// openVFS serves the one open file h to SQLite through modernc's read-only
// VFS: SQLite reads the descriptor fsafe checked, never a path it resolves
// itself, and has no way to write, lock or create anything.
func openVFS(h *fsafe.File) (*sql.DB, func(), error) {
	name := fmt.Sprintf("db%d", vfsSeq.Add(1))
	vfsName, v, err := sqlitevfs.New(oneFile{name: name, h: h})
	if err != nil {
		return nil, nil, fmt.Errorf("opening %s: %w", h.Name(), err)
	}
	// immutable=1: no locks, no journal or WAL look-ups; query_only is a
	// second guard inside the connection. The reads are one pass over the
	// rows, so a 256 KiB page cache does (the default 2 MiB is outside the
	// Go heap and counts against osquery's RSS watchdog).
	db, err := sql.Open("sqlite", "file:"+name+"?vfs="+vfsName+"&mode=ro&immutable=1&_pragma=query_only(1)&_pragma=cache_size(-256)")
	if err != nil {
		v.Close()
		return nil, nil, fmt.Errorf("opening %s: %w", h.Name(), err)
	}
	db.SetMaxOpenConns(1)
	return db, func() { v.Close() }, nil
}

// oneFile is an fs.FS holding one open file under one name.
type oneFile struct {
	name string
	h    *fsafe.File
}

func (o oneFile) Open(name string) (fs.File, error) {
	if strings.TrimPrefix(name, "/") != o.name {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	info, _ := o.h.Stat()
	return &vfsFile{SectionReader: io.NewSectionReader(o.h, 0, o.h.Size()), info: info}, nil
}

// vfsFile is one SQLite handle on the shared descriptor, with its own
// offset (reads are ReadAt, so handles never disturb one another).
type vfsFile struct {
	*io.SectionReader
	info fs.FileInfo
}

func (f *vfsFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *vfsFile) Close() error               { return nil }

// openCopy copies the database with its -wal and hot journal into a
// private temporary directory, checking that nothing changed meanwhile
// (retrying if it did), and opens the copy, where SQLite applies the WAL
// or rolls the journal back as it would for a writer: the copy is one
// committed state. The directory is removed when the snapshot is closed.
func openCopy(ctx context.Context, fsys fsafe.FS, path string) (*snapshot, error) {
	tmp, err := os.MkdirTemp("", "certsight-nss-")
	if err != nil {
		return nil, fmt.Errorf("private copy of %s: %w", filepath.Base(path), err)
	}
	cleanup := func() { os.RemoveAll(tmp) }
	dst := filepath.Join(tmp, filepath.Base(path))
	var warn error
	for attempt := 0; ; attempt++ {
		before, err := stateOf(ctx, fsys, path)
		if err != nil {
			cleanup()
			return nil, fmt.Errorf("private copy of %s: %w", filepath.Base(path), err)
		}
		copyErr := copySet(ctx, fsys, path, dst, before)
		after, err := stateOf(ctx, fsys, path)
		if copyErr == nil && err == nil && after == before {
			break
		}
		// A side file that failed to copy while the database changed is the
		// writer's commit in progress (on Windows the -journal being deleted
		// cannot be opened): that is a change, tried again, not an error.
		if copyErr != nil && (err != nil || after == before || attempt == copyRetries || ctx.Err() != nil) {
			cleanup()
			return nil, fmt.Errorf("private copy of %s: %w", filepath.Base(path), copyErr)
		}
		if attempt == copyRetries {
			warn = fmt.Errorf("%w: %s kept changing while it was copied", ErrInconsistent, filepath.Base(path))
			break
		}
		time.Sleep(time.Duration(10<<attempt) * time.Millisecond)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(dst)+"?_pragma=query_only(1)&_pragma=cache_size(-256)")
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("opening private copy of %s: %w", filepath.Base(path), err)
	}
	db.SetMaxOpenConns(1)
	return &snapshot{db: db, warn: warn, close: func() { db.Close(); cleanup() }}, nil
}

// copySet copies the database and its side files (those st says hold
// something) from path to dst.
func copySet(ctx context.Context, fsys fsafe.FS, path, dst string, st dbState) error {
	os.Remove(dst + "-wal")
	os.Remove(dst + "-journal")
	if err := copyFile(ctx, fsys, path, dst); err != nil {
		return err
	}
	if st.wal > 0 {
		if err := copyFile(ctx, fsys, path+"-wal", dst+"-wal"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if st.hotJournal {
		if err := copyFile(ctx, fsys, path+"-journal", dst+"-journal"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func copyFile(ctx context.Context, fsys fsafe.FS, src, dst string) error {
	in, err := fsys.Open(ctx, src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, io.LimitReader(in, copyMax+1)); err != nil {
		out.Close()
		return err
	}
	return out.Close()
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

// realTable refuses a name that is not a plain table: a view (which can
// compute anything, at any cost, on every query), a virtual table, or a
// table with generated columns.
func realTable(ctx context.Context, db *sql.DB, table string) error {
	var typ, ddl sql.NullString
	err := db.QueryRowContext(ctx, "SELECT type, sql FROM sqlite_master WHERE lower(name) = lower(?)", table).Scan(&typ, &ddl)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("no table %s: not an NSS database", table)
	case err != nil:
		return fmt.Errorf("reading the schema: %w", err)
	case typ.String != "table":
		return fmt.Errorf("%s is a %s, not a table: refused", table, typ.String)
	case strings.HasPrefix(strings.ToUpper(strings.TrimSpace(ddl.String)), "CREATE VIRTUAL"):
		return fmt.Errorf("%s is a virtual table: refused", table)
	}
	var generated int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pragma_table_xinfo(?) WHERE hidden IN (2, 3)", table).Scan(&generated); err != nil {
		return fmt.Errorf("reading the schema: %w", err)
	}
	if generated > 0 {
		return fmt.Errorf("%s has generated columns: refused", table)
	}
	return nil
}

// columns returns the set of column names of table, so queries can name
// only the attributes this database's NSS version created. The table must
// be a real one (realTable).
func columns(ctx context.Context, db *sql.DB, table string) (map[string]bool, error) {
	if err := realTable(ctx, db, table); err != nil {
		return nil, err
	}
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
// (older NSS versions have fewer attribute columns). Each value longer than
// maxValue is read as NULL; oversize (see oversize) says which rows had one.
func selectList(cols map[string]bool, want ...string) string {
	parts := make([]string, len(want))
	for i, w := range want {
		if cols[w] {
			parts[i] = fmt.Sprintf("CASE WHEN length(%s) <= %d THEN %s END", w, maxValue, w)
		} else {
			parts[i] = "NULL"
		}
	}
	return strings.Join(parts, ", ")
}

// oversize is an SQL expression, true for a row with a value over maxValue
// in one of the columns. length() of a BLOB reads its size from the record
// header, not the value.
func oversize(cols map[string]bool, want ...string) string {
	var parts []string
	for _, w := range want {
		if cols[w] {
			parts = append(parts, fmt.Sprintf("coalesce(length(%s), 0) > %d", w, maxValue))
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}

var _ = sqlite.Driver{}
