// Package nssdb reads NSS shared databases (cert9.db + key4.db, SQLite), as
// used by Firefox, Thunderbird, Chrome on Linux and /etc/pki/nssdb, without
// NSS: certificates with their nicknames, trust as `certutil -L` prints it,
// and whether key4.db holds the private key (by CKA_ID, which is stored in
// the clear, so password-protected databases need no password).
//
// Databases are opened read-only and immutable: nothing is written, no
// journal file is created and no lock is taken, so a browser's live database
// is safe. Private keys are never decrypted; only their CKA_ID is read.
package nssdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/certsight/certsight/internal/fsafe"
	"github.com/certsight/certsight/stores"
)

// Database file names inside an NSS database directory.
const (
	CertDBName   = "cert9.db"
	KeyDBName    = "key4.db"
	LegacyDBName = "cert8.db"
)

// ErrLegacyDBM is returned for a directory that holds only the Berkeley DB
// files of NSS before 3.35 (cert8.db, key3.db).
var ErrLegacyDBM = errors.New("legacy DBM database (cert8.db) is not supported; NSS ≥ 3.35 converts it to cert9.db on open")

// Reader reads NSS databases. It implements stores.Reader.
type Reader struct{ cfg stores.ReaderConfig }

var _ stores.Reader = (*Reader)(nil)

// Option configures a Reader.
type Option = stores.Option

// WithRoot makes Defaults look for the default databases of a file system
// mounted at dir (a disk image, a container's root file system) instead of
// this machine's: system paths and the homes listed in dir's /etc/passwd
// (Linux) or Users folder are taken under dir (see stores.Rooted). Sources
// keep their real paths on this machine. Read is unaffected.
func WithRoot(dir string) Option { return stores.WithRoot(dir) }

// New returns a Reader that logs to logger (nil discards).
func New(logger *slog.Logger, opts ...Option) *Reader {
	return &Reader{cfg: stores.NewReaderConfig(stores.KindNSSDB, logger, opts...)}
}

// Kind is stores.KindNSSDB.
func (r *Reader) Kind() stores.Kind { return r.cfg.Kind }

// IsDatabaseDir reports whether dir is an NSS database directory: it holds a
// cert9.db, or a legacy cert8.db (which Read then refuses with
// ErrLegacyDBM). An "sql:" or "dbm:" prefix, as NSS tools take, is allowed.
func IsDatabaseDir(dir string) bool {
	dir = trimPrefix(dir)
	for _, name := range []string{CertDBName, LegacyDBName} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Mode().IsRegular() {
			return true
		}
	}
	return false
}

// Database type prefixes that NSS tools take before a directory
// (certutil -d sql:DIR); users copy them from command lines. This is the
// one place that spells them.
const (
	PrefixSQL = "sql:"
	PrefixDBM = "dbm:" // the legacy Berkeley DB format, which Read refuses
)

// SplitPrefix splits an NSS database type prefix off path: dir is the
// directory, prefix "sql:", "dbm:" or "".
func SplitPrefix(path string) (dir, prefix string) {
	for _, p := range []string{PrefixSQL, PrefixDBM} {
		if strings.HasPrefix(path, p) {
			return path[len(p):], p
		}
	}
	return path, ""
}

// JoinPrefix puts prefix back before dir.
func JoinPrefix(prefix, dir string) string { return prefix + dir }

// NamesDatabase reports whether name names the database directory dir: dir
// itself, with an NSS prefix, or its cert9.db or cert8.db file.
func NamesDatabase(name, dir string) bool {
	p, _ := SplitPrefix(name)
	p = filepath.Clean(p)
	dir = filepath.Clean(dir)
	if p == dir {
		return true
	}
	base := filepath.Base(p)
	return (base == CertDBName || base == LegacyDBName) && filepath.Dir(p) == dir
}

func trimPrefix(path string) string {
	dir, _ := SplitPrefix(path)
	return dir
}

// Read reads the database directory src.Path (or the directory of a
// cert9.db named directly). Rows that cannot be read become ItemErrors; the
// other rows are still handed over, each as soon as it is built, in row
// order, so only a bounded window of parsed certificates is alive at a time.
func (r *Reader) Read(ctx context.Context, src stores.Source) stores.Seq {
	return stores.Stream(func(fn func(stores.Entry) error) []error { return r.read(ctx, src, fn) })
}

func (r *Reader) read(ctx context.Context, src stores.Source, fn func(stores.Entry) error) []error {
	if _, prefix := SplitPrefix(src.Path); prefix == PrefixDBM { // the caller asked for the legacy format itself
		return []error{r.cfg.ItemError(src.Path, "", ErrLegacyDBM)}
	}
	fsys := fsafe.In(r.cfg.Root)
	dir := trimPrefix(src.Path)
	if fi, err := fsys.Stat(dir); err == nil && fi.Mode().IsRegular() && filepath.Base(dir) == CertDBName {
		dir = filepath.Dir(dir)
	}
	fail := func(item string, err error) []error {
		return []error{r.cfg.ItemError(src.Path, item, err)}
	}
	certPath := filepath.Join(dir, CertDBName)
	if _, err := fsys.Stat(certPath); err != nil {
		if _, lerr := fsys.Stat(filepath.Join(dir, LegacyDBName)); lerr == nil {
			return fail("", ErrLegacyDBM)
		}
		if errors.Is(err, os.ErrNotExist) {
			return fail("", fmt.Errorf("not an NSS database directory: no %s", CertDBName))
		}
		return fail("", err)
	}

	var errs []error
	keys, warn, err := readKeys(ctx, fsys, filepath.Join(dir, KeyDBName))
	switch {
	case errors.Is(err, os.ErrNotExist):
		r.cfg.Log.Debug("no key database; no private keys", "path", dir)
		keys = nil
	case err != nil:
		// Every certificate's key state is then "unknown", not "absent".
		errs = append(errs, r.cfg.ItemError(src.Path, KeyDBName, err))
	}
	if warn != nil {
		errs = append(errs, r.cfg.ItemError(src.Path, KeyDBName, warn))
	}
	return r.readCertDB(ctx, fsys, certPath, src, keys, errs, fn)
}
