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
	"errors"
	"fmt"
	"iter"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/internal/enum"
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

// KeyMatch is what was actually established about the private key of an
// entry, printed in the client_certificates "private_key" column. Only
// KeyMatched is evidence that the certificate's own key is present: every
// other state is something short of it, and says which.
type KeyMatch int

// Key states. The zero value is KeyAbsent.
const (
	// KeyAbsent: the store was read and holds no key for this certificate
	// (or a key object that holds no key material).
	KeyAbsent KeyMatch = iota
	// KeyMatched: key material was found and its public half equals the
	// certificate's (for a key stored encrypted, the private half was
	// decrypted and checked against it).
	KeyMatched
	// KeyLocked: key material is present but encrypted, so whether its
	// private half belongs to the certificate is unknown (an NSS database
	// with a password whose key object's clear public half matches; an
	// encrypted PEM key; a Windows key file, DPAPI-encrypted, whose clear
	// public half matches).
	KeyLocked
	// KeyLinked: the store links a key to the certificate by an identifier
	// (NSS CKA_ID without checkable material, Windows key-provider info
	// whose key file was not located, keychain label = public-key hash),
	// but no key material was checked.
	KeyLinked
	// KeyMismatch: a key was paired with the certificate but belongs to
	// another one (or its private half does not belong to its public half).
	KeyMismatch
	// KeyUnknown: the key store could not be read, so nothing is known;
	// the reason is in KeyNote and in the read's errors.
	KeyUnknown
)

// keyMatchNames are the words of the private_key column, in KeyMatch order.
var keyMatchNames = enum.Names[KeyMatch]{Type: "KeyMatch",
	Words: []string{"absent", "matched", "locked", "linked", "mismatch", "unknown"}}

func (k KeyMatch) String() string { return keyMatchNames.String(k) }

// HasPrivateKey is the has_private_key column: true only for KeyMatched. A
// link (KeyLinked) or an encrypted key whose private half was not checked
// (KeyLocked) is not evidence that the certificate's own key is present:
// anyone who copies a certificate can add a link beside it.
func (k KeyMatch) HasPrivateKey() bool { return k == KeyMatched }

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

// Result is a whole read gathered in memory (see Collect): every entry that
// could be read, and an error for every item that could not.
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

// Seq is how every read hands over what it finds, one item at a time: an
// entry with a nil error, or a per-item error (an ItemError, or the
// context's error when the deadline ends the read) with a zero Entry. A
// consumer that stops early (break) stops the read; nothing is read ahead,
// so a caller that turns each entry into a row and drops it never holds a
// whole store's parsed certificates. Readers, the scanner and the tables
// all use this one form.
type Seq = iter.Seq2[Entry, error]

// Reader reads certificates from one kind of store. Read honours ctx's
// deadline between items and ends with the context's error when it expires.
type Reader interface {
	// Kind names the store format this reader understands.
	Kind() Kind
	// Defaults returns the platform's default sources for this store
	// (system and per-user), skipping those that do not exist.
	Defaults(ctx context.Context) []Source
	// Read reads one source.
	Read(ctx context.Context, src Source) Seq
}

// Collect gathers a whole read, for callers that need every entry at once
// (posture's evaluation, tests).
func Collect(seq Seq) Result {
	var res Result
	for e, err := range seq {
		if err != nil {
			res.Errors = append(res.Errors, err)
			continue
		}
		res.Entries = append(res.Entries, e)
	}
	return res
}

// Seq replays a collected result as a read would stream it: the entries,
// then the errors.
func (r Result) Seq() Seq {
	return func(yield func(Entry, error) bool) {
		for _, e := range r.Entries {
			if !yield(e, nil) {
				return
			}
		}
		for _, err := range r.Errors {
			if !yield(Entry{}, err) {
				return
			}
		}
	}
}

// errStop is what a Stream producer's emit returns once the consumer has
// stopped; the producer returns at once and its errors are dropped.
var errStop = errors.New("stores: consumer stopped")

// Stream adapts a producer written as "call emit for each entry, return
// the per-item errors" to a Seq. emit's error must end the producer (it
// appends that error last and returns). Errors are handed over after the
// entries.
func Stream(produce func(emit func(Entry) error) []error) Seq {
	return func(yield func(Entry, error) bool) {
		errs := produce(func(e Entry) error {
			if !yield(e, nil) {
				return errStop
			}
			return nil
		})
		for _, err := range errs {
			if err == errStop || !yield(Entry{}, err) {
				return
			}
		}
	}
}

// Concat reads seqs one after the other as one Seq.
func Concat(seqs ...Seq) Seq {
	return func(yield func(Entry, error) bool) {
		for _, s := range seqs {
			for e, err := range s {
				if !yield(e, err) {
					return
				}
			}
		}
	}
}

// Errors is a Seq of errors alone.
func Errors(errs ...error) Seq {
	return func(yield func(Entry, error) bool) {
		for _, err := range errs {
			if !yield(Entry{}, err) {
				return
			}
		}
	}
}
