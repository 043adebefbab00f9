// Package keychain reads certificates from macOS keychain files (.keychain
// and .keychain-db, the "kych" CSSM AppleFileDL format) natively on every OS:
// no Security framework, no cgo, no password.
//
// For each record of the X.509 certificate table it reports the DER and the
// print name. A private key is reported linked (stores.KeyLinked) when a
// record of the private-key table carries, as its Label, the certificate's
// public-key hash: the link macOS itself uses to form an identity. It is
// never "matched": the key blob is encrypted with the keychain's password,
// and a label can be copied beside any certificate. Nor "locked", as an NSS
// key behind a password with a matching clear public half is: the key
// record's blob (a 0xFADE0711 key blob) keeps no public key in its cleartext
// part, and macOS leaves the public-key table empty for an imported identity
// (so in the real keychain of testdata/real), so nothing can be compared.
// Only plaintext attributes are read; key blobs and passwords are never
// decrypted.
//
// Files are read into memory through a read-only handle (a private copy), so
// the user's keychain is never written, locked or kept open.
package keychain

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/certsight/certsight/internal/fsafe"
	"github.com/certsight/certsight/stores"
	"github.com/certsight/certsight/stores/keychain/internal/kcfile"
)

// ErrNotKeychain is reported for a named file that does not start with the
// keychain magic ("kych").
var ErrNotKeychain = kcfile.ErrNotKeychain

// MaxFileSize caps the size of a keychain file that Read loads. Real
// keychains are far smaller; the cap keeps a wrong path from eating memory.
const MaxFileSize = 64 << 20

// Reader reads keychain files. It implements stores.Reader.
type Reader struct{ cfg stores.ReaderConfig }

var _ stores.Reader = (*Reader)(nil)

// Option configures a Reader.
type Option = stores.Option

// WithRoot makes Defaults (on macOS) look for the keychains of a file system
// mounted at dir (a disk image) instead of this machine's: the System
// keychain and the login keychains of the homes in dir's /Users (see
// stores.Rooted). Sources keep their real paths on this machine. Read is
// unaffected.
func WithRoot(dir string) Option { return stores.WithRoot(dir) }

// New returns a Reader that logs to logger (nil discards).
func New(logger *slog.Logger, opts ...Option) *Reader {
	return &Reader{cfg: stores.NewReaderConfig(stores.KindKeychain, logger, opts...)}
}

// Kind returns stores.KindKeychain.
func (r *Reader) Kind() stores.Kind { return r.cfg.Kind }

// Sniff reports whether head, the first bytes of a file, is a keychain.
func Sniff(head []byte) bool { return bytes.HasPrefix(head, []byte(kcfile.Magic)) }

// Defaults returns the platform's keychains that exist: on macOS the System
// keychain (system) and each user's login keychain (user); none elsewhere.
// With WithRoot, those of the file system mounted there.
func (r *Reader) Defaults(ctx context.Context) []stores.Source {
	return defaultSources(ctx, r.cfg.Log, r.cfg.Root)
}

// Read reads one keychain file, or every keychain file directly inside a
// directory (files are recognised by their magic, not their name), handing
// over each certificate as it is parsed.
func (r *Reader) Read(ctx context.Context, src stores.Source) stores.Seq {
	return func(yield func(stores.Entry, error) bool) { r.read(ctx, src, yield) }
}

// yielder is the consumer of one Read; helpers return false once it stopped.
type yielder = func(stores.Entry, error) bool

func (r *Reader) read(ctx context.Context, src stores.Source, yield yielder) {
	r.cfg.ReadPath(ctx, src.Path, yield, func(p string, entry fs.DirEntry) bool {
		if entry != nil {
			if !entry.Type().IsRegular() {
				return true
			}
			if head, err := fsafe.In(r.cfg.Root).ReadHead(ctx, p, int64(len(kcfile.Magic))); err != nil || !Sniff(head) {
				r.cfg.Log.Debug("skipping file that is not a keychain", "path", p)
				return true
			}
		}
		return r.readFile(ctx, src, p, entry == nil, yield)
	})
}

// readFile reads one file. named says the caller named this file itself, so
// a file of another kind is an error rather than something to pass over.
func (r *Reader) readFile(ctx context.Context, src stores.Source, path string, named bool, yield yielder) bool {
	fail := func(item string, err error) bool { return yield(stores.Entry{}, r.cfg.ItemError(path, item, err)) }
	data, err := fsafe.In(r.cfg.Root).ReadFile(ctx, path, MaxFileSize)
	if err != nil {
		return fail("", err)
	}
	if !Sniff(data) {
		if named {
			return fail("", ErrNotKeychain)
		}
		r.cfg.Log.Debug("skipping file that is not a keychain", "path", path)
		return true
	}
	f, err := kcfile.ParseFileContext(ctx, data)
	if err != nil {
		return fail("", err)
	}
	for _, p := range f.Problems {
		if !fail("layout", p) {
			return false
		}
	}
	certs, errs := f.Certificates()
	for _, e := range errs {
		if !fail("certificate", e) {
			return false
		}
	}
	labels, errs := f.PrivateKeyLabels()
	for _, e := range errs {
		if !fail("private key", e) {
			return false
		}
	}
	keys := make(map[string]bool, len(labels))
	for _, l := range labels {
		keys[string(l)] = true
	}
	loc := src.Location
	if loc == "" {
		loc = stores.LocationPath
	}
	n := 0
	for _, kc := range certs {
		if err := ctx.Err(); err != nil {
			return fail("", err)
		}
		item := fmt.Sprintf("certificate record at offset %d", kc.Offset)
		c, err := x509.ParseCertificate(kc.DER)
		if err != nil {
			if !fail(item, fmt.Errorf("parsing certificate: %w", err)) {
				return false
			}
			continue
		}
		e := stores.NewEntry(c, stores.KindKeychain, loc, path)
		e.Label = kc.PrintName
		e.Username = src.Username
		e.SID = src.SID
		e.Key, e.KeyNote = keyState(c, kc, keys)
		n++
		if !yield(e, nil) {
			return false
		}
	}
	r.cfg.Log.Debug("read keychain", "path", path, "certificates", n)
	return true
}

// keyState pairs a certificate with the private keys by public-key hash. The
// hash is computed from the certificate, so a stored 'hpky' that was altered
// cannot borrow another certificate's key; a disagreement is noted.
func keyState(c *x509.Certificate, kc kcfile.Certificate, keys map[string]bool) (stores.KeyMatch, string) {
	h, err := kcfile.PublicKeyHash(c)
	if err != nil {
		return stores.KeyAbsent, fmt.Sprintf("public-key hash not computed: %v", err)
	}
	var note string
	if kc.PublicKeyHash != nil && !bytes.Equal(kc.PublicKeyHash, h) {
		note = fmt.Sprintf("stored public-key hash %s differs from the certificate's %s",
			hex.EncodeToString(kc.PublicKeyHash), hex.EncodeToString(h))
	}
	if keys[string(h)] {
		return stores.KeyLinked, joinNote("private key record linked by public-key hash; key blob is encrypted and was not read", note)
	}
	return stores.KeyAbsent, note
}

func joinNote(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}
