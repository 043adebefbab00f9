// Package nssdb reads NSS shared databases (cert9.db + key4.db, SQLite), as
// used by Firefox, Thunderbird, Chrome on Linux and /etc/pki/nssdb, without
// NSS: certificates with their nicknames, trust as `certutil -L` prints it,
// and what key4.db establishes about each certificate's private key (see
// keys.go: the key object's clear public half is compared with the
// certificate's; with the empty password most databases have, its private
// half is decrypted in memory, checked, and dropped).
//
// Databases are opened read-only and immutable: nothing is written, no
// journal file is created and no lock is taken, so a browser's live database
// is safe. No key material is kept or returned.
package nssdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

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
type Reader struct {
	log  *slog.Logger
	root string // where the file system of Defaults is mounted; "" is /
}

var _ stores.Reader = (*Reader)(nil)

// Option configures a Reader.
type Option func(*Reader)

// WithRoot makes Defaults look for the default databases of a file system
// mounted at dir (a disk image, a container's root file system) instead of
// this machine's: system paths and the homes listed in dir's /etc/passwd
// (Linux) or Users folder are taken under dir (see stores.Rooted). Sources
// keep their real paths on this machine. Read is unaffected.
func WithRoot(dir string) Option { return func(r *Reader) { r.root = dir } }

// New returns a Reader that logs to logger (nil discards).
func New(logger *slog.Logger, opts ...Option) *Reader {
	r := &Reader{log: stores.ReaderLogger(logger, stores.KindNSSDB)}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Kind is stores.KindNSSDB.
func (r *Reader) Kind() stores.Kind { return stores.KindNSSDB }

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

// trimPrefix removes the "sql:" / "dbm:" database type prefix of NSS tools.
func trimPrefix(dir string) string {
	for _, p := range []string{"sql:", "dbm:"} {
		if strings.HasPrefix(dir, p) {
			return dir[len(p):]
		}
	}
	return dir
}

// Read reads the database directory src.Path (or the directory of a
// cert9.db named directly). Rows that cannot be read become ItemErrors; the
// other rows are still returned.
func (r *Reader) Read(ctx context.Context, src stores.Source) stores.Result {
	var res stores.Result
	errs := r.ReadEach(ctx, src, res.Collect)
	res.Errors = errs
	return res
}

var _ stores.EachReader = (*Reader)(nil)

// ReadEach reads like Read but hands each entry to fn as soon as it is
// built, in row order, so only a bounded window of parsed certificates is
// alive at a time. When fn fails, reading stops and fn's error is the last
// one returned.
func (r *Reader) ReadEach(ctx context.Context, src stores.Source, fn func(stores.Entry) error) []error {
	if strings.HasPrefix(src.Path, "dbm:") { // the caller asked for the legacy format itself
		return []error{&stores.ItemError{Store: stores.KindNSSDB, Path: src.Path, Err: ErrLegacyDBM}}
	}
	dir := trimPrefix(src.Path)
	if fi, err := os.Stat(dir); err == nil && fi.Mode().IsRegular() && filepath.Base(dir) == CertDBName {
		dir = filepath.Dir(dir)
	}
	fail := func(item string, err error) []error {
		return []error{&stores.ItemError{Store: stores.KindNSSDB, Path: src.Path, Item: item, Err: err}}
	}
	certPath := filepath.Join(dir, CertDBName)
	if _, err := os.Stat(certPath); err != nil {
		if _, lerr := os.Stat(filepath.Join(dir, LegacyDBName)); lerr == nil {
			return fail("", ErrLegacyDBM)
		}
		if errors.Is(err, os.ErrNotExist) {
			return fail("", fmt.Errorf("not an NSS database directory: no %s", CertDBName))
		}
		return fail("", err)
	}

	var errs []error
	keys, err := readKeys(ctx, filepath.Join(dir, KeyDBName))
	switch {
	case errors.Is(err, os.ErrNotExist):
		r.log.Debug("no key database; no private keys", "path", dir)
	case err != nil:
		// Every certificate's key state is then "unknown", not "absent".
		errs = append(errs, &stores.ItemError{Store: stores.KindNSSDB, Path: src.Path, Item: KeyDBName, Err: err})
	}
	return r.readCertDB(ctx, certPath, src, keys, errs, fn)
}
