// Package stores holds what every certificate store reader shares: the Entry
// a reader returns for each certificate, and the Reader interface. The readers
// live in subpackages, one per store format: pemfile, nssdb, keychain, winstore.
//
// Readers are strictly read-only. They never write to a store, never hold a
// lock on it for long, and never keep or return private key material: a key
// is parsed only to compare its public half, then dropped.
package stores

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"

	"github.com/certsight/certsight/cert"
)

// Kind names a store format, as printed in the client_certificates "store" column.
type Kind string

// Store kinds.
const (
	KindPEM      Kind = "pem"
	KindNSSDB    Kind = "nssdb"
	KindKeychain Kind = "keychain"
	KindWinstore Kind = "winstore"
)

// Location says where a store was found, as printed in "store_location".
type Location string

// Store locations.
const (
	LocationSystem Location = "system" // a machine-wide default store
	LocationUser   Location = "user"   // a user's default store
	LocationPath   Location = "path"   // a path the caller named
)

// KeyMatch is what is known about the private key of an entry.
type KeyMatch int

// Key states. Only KeyMatched means the matching key is present.
const (
	KeyAbsent   KeyMatch = iota // no private key for this certificate was found
	KeyMatched                  // a private key was found and its public half equals the certificate's
	KeyLocked                   // a key is present but encrypted, so whether it matches is unknown
	KeyPresent                  // the store links a key to the certificate (by id) without exposing its public half
	KeyMismatch                 // a key was paired with the certificate but belongs to another one
)

func (k KeyMatch) String() string {
	switch k {
	case KeyAbsent:
		return "absent"
	case KeyMatched:
		return "matched"
	case KeyLocked:
		return "locked"
	case KeyPresent:
		return "present"
	case KeyMismatch:
		return "mismatch"
	}
	return fmt.Sprintf("KeyMatch(%d)", int(k))
}

// HasPrivateKey reports whether the certificate's own private key is present
// in the same store or key file (KeyMatched, or KeyPresent where the store
// links key and certificate by its own identifiers).
func (k KeyMatch) HasPrivateKey() bool { return k == KeyMatched || k == KeyPresent }

// Entry is one certificate found in a store.
type Entry struct {
	// Certificate is the parsed certificate; Info its derived facts.
	Certificate *x509.Certificate
	Info        cert.Info

	Store    Kind
	Location Location
	// Path is the file or directory that was read (an NSS database
	// directory, a keychain file, a PEM file, a store element file).
	Path string
	// Label is the NSS nickname, keychain print name or Windows friendly name.
	Label string
	// Username owns the store, for per-user stores; SID is the owner's
	// Windows security identifier where known.
	Username string
	SID      string

	// Key says whether the private key is present and whether it matches.
	Key KeyMatch
	// KeyNote explains Key in words when it is not plainly absent or matched,
	// e.g. "private key is encrypted; match not checked".
	KeyNote string
	// KeyPath is the file holding the key when it is not Path.
	KeyPath string

	// Trust is the NSS trust string as `certutil -L` prints it ("CTu,Cu,Cu");
	// empty for other stores.
	Trust string
}

// NewEntry fills the certificate facts of an Entry.
func NewEntry(c *x509.Certificate, kind Kind, loc Location, path string) Entry {
	return Entry{Certificate: c, Info: cert.NewInfo(c), Store: kind, Location: loc, Path: path}
}

// ItemError is a per-item read failure: one bad file, record or row. It never
// hides the entries that could be read.
type ItemError struct {
	Store Kind
	Path  string
	// Item names the part of the store that failed (a record, a row id, a
	// file inside a directory); empty when the whole path failed.
	Item string
	Err  error
}

func (e *ItemError) Error() string {
	// Store is empty when no reader claimed the path (the dispatcher's
	// "unrecognised content", a missing path).
	where := e.Path
	if e.Store != "" {
		where = string(e.Store) + " " + e.Path
	}
	if e.Item != "" {
		return fmt.Sprintf("%s (%s): %v", where, e.Item, e.Err)
	}
	return fmt.Sprintf("%s: %v", where, e.Err)
}

func (e *ItemError) Unwrap() error { return e.Err }

// Result is what one read returns: every entry that could be read, and an
// error for every item that could not.
type Result struct {
	Entries []Entry
	Errors  []error
}

// Add appends another result.
func (r *Result) Add(o Result) {
	r.Entries = append(r.Entries, o.Entries...)
	r.Errors = append(r.Errors, o.Errors...)
}

// Source is one place to read: a path (file, directory, glob, database
// directory) with the location and owner to report for it.
type Source struct {
	Path     string
	Location Location
	Username string
	SID      string
}

// Reader reads certificates from one kind of store. Read honours ctx's
// deadline between items and returns what it read so far when it expires,
// with the context's error among Errors.
type Reader interface {
	// Kind names the store format this reader understands.
	Kind() Kind
	// Defaults returns the platform's default sources for this store
	// (system and per-user), skipping those that do not exist.
	Defaults(ctx context.Context) []Source
	// Read reads one source.
	Read(ctx context.Context, src Source) Result
}

// EachReader is a Reader that hands over its entries one at a time, so a
// caller that turns each entry into a row and drops it never holds a whole
// store's parsed certificates: the extension stays under 40 MB RSS while
// scanning 10,000 certificates.
type EachReader interface {
	Reader
	// ReadEach reads one source like Read, calling fn with each entry in
	// Read's order, and returns the per-item errors. When fn returns an
	// error, reading stops and that error is the last one returned.
	ReadEach(ctx context.Context, src Source, fn func(Entry) error) []error
}

// ReadEach reads src with r one entry at a time: natively when r is an
// EachReader, else by reading it whole and handing the entries over,
// dropping each after fn returns.
func ReadEach(ctx context.Context, r Reader, src Source, fn func(Entry) error) []error {
	if er, ok := r.(EachReader); ok {
		return er.ReadEach(ctx, src, fn)
	}
	return Each(r.Read(ctx, src), fn)
}

// Each hands res's entries to fn in order, dropping each after fn returns,
// and returns res's errors; when fn fails it stops, and fn's error is the
// last one returned.
func Each(res Result, fn func(Entry) error) []error {
	for i := range res.Entries {
		e := res.Entries[i]
		res.Entries[i] = Entry{}
		if err := fn(e); err != nil {
			return append(res.Errors, err)
		}
	}
	return res.Errors
}

// Collect is the fn of a ReadEach that gathers every entry into res.
func (r *Result) Collect(e Entry) error {
	r.Entries = append(r.Entries, e)
	return nil
}

// ReaderLogger is the logger a reader of kind keeps: logger (nil discards)
// with the store kind attached to every record.
func ReaderLogger(logger *slog.Logger, kind Kind) *slog.Logger {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return logger.With("store", string(kind))
}
