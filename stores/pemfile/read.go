package pemfile

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/internal/fsafe"
	"github.com/certsight/certsight/stores"
)

// Notes put in Entry.KeyNote.
const (
	NoteEncrypted     = "private key is encrypted; match not checked"
	NoteMismatch      = "private key in the same file belongs to another certificate"
	NoteMismatchOther = "private key in %s belongs to another certificate"
)

// maxProblems caps the block errors reported for one file.
const maxProblems = 5

// capJoined keeps the first maxProblems errors of a joined error (however
// deeply wrapped) and counts the rest.
func capJoined(err error) error {
	var errs []error
	for e := err; e != nil; {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
			break
		}
		e = errors.Unwrap(e)
	}
	if len(errs) <= maxProblems {
		return err
	}
	return fmt.Errorf("%d blocks did not parse: %w (and %d more)", len(errs), errors.Join(errs[:maxProblems]...), len(errs)-maxProblems)
}

var errKeyOnly = errors.New("no certificate in file, and its private key matches none of the certificates read")

// errChanged is reported for a file whose certificates could not be read
// again for their entries (see ReadFiles).
var errChanged = errors.New("file changed or vanished while it was being read")

// fingerprint identifies a public key: SHA-256 over its Go type and its
// PKIX encoding. Two keys have the same fingerprint exactly when the one's
// Equal method accepts the other (what cert.KeyMatches asks), so pairing
// needs neither the parsed certificates nor the keys.
type fingerprint [sha256.Size]byte

func keyFingerprint(pub crypto.PublicKey) (fingerprint, bool) {
	if pub == nil {
		return fingerprint{}, false
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fingerprint{}, false // a type no key of ours has (DSA): matches nothing
	}
	h := sha256.New()
	fmt.Fprintf(h, "%T\x00", pub)
	h.Write(der)
	var fp fingerprint
	h.Sum(fp[:0])
	return fp, true
}

// parsedFile is what pairing needs of one file: its certificates' and keys'
// fingerprints. Nothing parsed is kept.
type parsedFile struct {
	path  string
	named bool
	certs []pending
	keys  []key
}

type key struct {
	fp        fingerprint
	readable  bool // not encrypted, and fp is known
	encrypted bool
	used      bool // matched or paired with a certificate
}

type pending struct {
	fp      fingerprint
	hasFP   bool
	isCA    bool
	match   stores.KeyMatch
	note    string
	keyPath string
}

// ReadFiles reads files as one set: a key in any of them pairs with the
// certificate it belongs to, wherever that is. Each file is read once even if
// listed twice or through a symlink. Entries get src's location and owner.
// Pairing needs every key of the set before any certificate's entry is
// final, so the files are read twice: once for the fingerprints of their
// keys and certificates, once more for the entries, each handed over and
// dropped at once. A few hundred bytes per certificate stay alive between
// the two, never the parsed certificates. When ctx ends between files, the
// read ends with ctx's error.
func (r *Reader) ReadFiles(ctx context.Context, src stores.Source, files []File) stores.Seq {
	return stores.Stream(func(fn func(stores.Entry) error) []error {
		return r.readSet(ctx, src, files, r.loader(ctx), fn)
	})
}

// readSet is ReadFiles with the file loader as a parameter, so the fuzz
// target can run it on memory.
func (r *Reader) readSet(ctx context.Context, src stores.Source, files []File,
	load func(File) ([]byte, error), fn func(stores.Entry) error) []error {
	var errs []error
	var parsed []*parsedFile
	seen := map[string]bool{}
	ctxErr := func() bool {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("reading PEM files: %w", err))
			return true
		}
		return false
	}
	stopped := false
	for i := 0; ; i++ {
		if stopped = ctxErr(); stopped || i == len(files) {
			break
		}
		f := files[i]
		id := f.Path
		if fi, err := fsafe.In(r.cfg.Root).Stat(f.Path); err == nil {
			id = fileID(fi)
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		var pf *parsedFile
		data, err := load(f)
		if err == nil {
			var b *cert.Bundle
			b, err = r.parseFile(f, data)
			pf = record(f, b)
		}
		if err != nil {
			errs = append(errs, r.cfg.ItemError(f.Path, "", err))
		}
		if pf != nil {
			parsed = append(parsed, pf)
		}
	}

	pair(parsed)
	for _, pf := range parsed {
		if len(pf.certs) == 0 && pf.named && anyUnused(pf.keys) {
			errs = append(errs, r.cfg.ItemError(pf.path, "", errKeyOnly))
		}
	}
	for _, pf := range parsed {
		if len(pf.certs) == 0 {
			continue
		}
		if !stopped {
			stopped = ctxErr()
		}
		if stopped {
			break
		}
		changed := false
		certs, err := r.certsAgain(pf, load)
		if err != nil {
			errs = append(errs, r.cfg.ItemError(pf.path, "", err))
			continue
		}
		for i, c := range certs {
			certs[i] = nil
			e := stores.NewEntry(c, stores.KindPEM, src.Location, pf.path)
			e.Username, e.SID = src.Username, src.SID
			if i < len(pf.certs) && pf.certs[i].is(c) {
				p := &pf.certs[i]
				e.Key, e.KeyNote, e.KeyPath = p.match, p.note, p.keyPath
			} else {
				// The file was replaced between its two reads: this
				// certificate was not paired, so its key state is unknown,
				// not absent, and the change is said.
				e.Key, e.KeyNote = stores.KeyUnknown, "file changed while it was read; key not paired"
				if !changed {
					changed = true
					errs = append(errs, r.cfg.ItemError(pf.path, "", fmt.Errorf("%w: key state unknown", errChanged)))
				}
			}
			if err := fn(e); err != nil {
				return append(errs, err)
			}
		}
	}
	return errs
}

// certsAgain parses pf's file a second time for its certificates.
func (r *Reader) certsAgain(pf *parsedFile, load func(File) ([]byte, error)) ([]*x509.Certificate, error) {
	data, err := load(File{Path: pf.path, Named: pf.named})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errChanged, err)
	}
	b, _ := cert.Parse(data) // its problems were reported the first time
	if b == nil || len(b.Certificates) == 0 {
		return nil, errChanged
	}
	return b.Certificates, nil
}

// is reports whether c is the certificate p was recorded from.
func (p *pending) is(c *x509.Certificate) bool {
	fp, ok := keyFingerprint(c.PublicKey)
	return ok == p.hasFP && fp == p.fp && (c.BasicConstraintsValid && c.IsCA) == p.isCA
}

// record keeps what pairing needs of a parsed file; nil for nil.
func record(f File, b *cert.Bundle) *parsedFile {
	if b == nil {
		return nil
	}
	pf := &parsedFile{path: f.Path, named: f.Named}
	if len(b.Certificates) > 0 {
		pf.certs = make([]pending, len(b.Certificates))
	}
	for i, c := range b.Certificates {
		p := &pf.certs[i]
		p.fp, p.hasFP = keyFingerprint(c.PublicKey)
		p.isCA = c.BasicConstraintsValid && c.IsCA
	}
	for _, k := range b.Keys {
		fp, ok := keyFingerprint(k.Public)
		pf.keys = append(pf.keys, key{fp: fp, readable: ok && !k.Encrypted, encrypted: k.Encrypted})
	}
	return pf
}

// loader reads one file through fsafe: a regular file of at most
// MaxFileSize bytes, not a FIFO or device, read within ctx's deadline.
func (r *Reader) loader(ctx context.Context) func(File) ([]byte, error) {
	fsys := fsafe.In(r.cfg.Root)
	return func(f File) ([]byte, error) { return fsys.ReadFile(ctx, f.Path, MaxFileSize) }
}

// parseFile parses the content of one file. It returns nil and no error for
// a file that is not PEM/DER and was not named; a file with some blocks that
// failed to parse returns both what parsed and an error.
func (r *Reader) parseFile(f File, data []byte) (*cert.Bundle, error) {
	b, err := cert.Parse(data)
	if errors.Is(err, cert.ErrNoContent) {
		if f.Named {
			return nil, errors.New("no certificate or private key found (not PEM or DER)")
		}
		r.cfg.Log.Debug("skipping file without certificates", "path", f.Path)
		return nil, nil
	}
	if err != nil {
		return b, capJoined(err)
	}
	if n := len(b.Problems); n > 0 {
		// A file of junk blocks gives one short error, not one line the
		// size of the file.
		shown := b.Problems[:min(n, maxProblems)]
		err := fmt.Errorf("%d blocks did not parse: %w", n, errors.Join(shown...))
		if n > len(shown) {
			err = fmt.Errorf("%w (and %d more)", err, n-len(shown))
		}
		return b, err
	}
	return b, nil
}

// pair decides Entry.Key for every certificate, in three passes:
//  1. a key whose public half equals the certificate's, in the same file or
//     any other, is a match;
//  2. keys left over in a file that holds certificates are paired with the
//     file's unmatched certificates in order, leaves before CAs (a bundle's
//     CA certificates are not what a key in it is for): an encrypted key makes
//     the pair Locked, a readable one Mismatch;
//  3. if exactly one key is left over among the key-only files and exactly one
//     certificate is left unmatched (counting only leaves when there are
//     any), they are the pair (client.pem
//     named with a key file that is encrypted, or wrong).
func pair(files []*parsedFile) {
	// Every readable key by fingerprint, in file and key order, so that
	// pass 1 costs one lookup per certificate however many files there are.
	type loc struct{ file, key int }
	index := map[fingerprint][]loc{}
	for fi, f := range files {
		for ki, k := range f.keys {
			if k.readable {
				index[k.fp] = append(index[k.fp], loc{fi, ki})
			}
		}
	}
	if len(index) > 0 {
		for fi, f := range files {
			for ci := range f.certs {
				p := &f.certs[ci]
				if !p.hasFP {
					continue
				}
				if matchIn(p, f, f) {
					continue
				}
				for _, l := range index[p.fp] {
					if l.file != fi {
						g := files[l.file]
						g.keys[l.key].used = true
						p.match, p.keyPath = stores.KeyMatched, g.path
						break
					}
				}
			}
		}
	}

	for _, f := range files {
		left := unused(f.keys)
		if len(left) == 0 {
			continue
		}
		cands := candidates([]*parsedFile{f})
		for i := 0; i < len(left) && i < len(cands); i++ {
			left[i].used = true
			if left[i].encrypted {
				cands[i].match, cands[i].note = stores.KeyLocked, NoteEncrypted
			} else {
				cands[i].match, cands[i].note = stores.KeyMismatch, NoteMismatch
			}
		}
	}

	var left []*key
	var leftFile string
	for _, f := range files {
		if len(f.certs) == 0 {
			for _, k := range unused(f.keys) {
				left, leftFile = append(left, k), f.path
			}
		}
	}
	if len(left) != 1 {
		return
	}
	cands := candidates(files)
	if n := leaves(cands); n > 0 {
		cands = cands[:n]
	}
	if len(cands) == 1 {
		left[0].used = true
		cands[0].keyPath = leftFile
		if left[0].encrypted {
			cands[0].match, cands[0].note = stores.KeyLocked, NoteEncrypted
		} else {
			cands[0].match, cands[0].note = stores.KeyMismatch, fmt.Sprintf(NoteMismatchOther, leftFile)
		}
	}
}

// matchIn marks p matched when a readable key of g belongs to it. f is p's
// own file; KeyPath is set only when the key lives elsewhere.
func matchIn(p *pending, f, g *parsedFile) bool {
	for i := range g.keys {
		k := &g.keys[i]
		if !k.readable || k.fp != p.fp {
			continue
		}
		k.used = true
		p.match = stores.KeyMatched
		if g != f {
			p.keyPath = g.path
		}
		return true
	}
	return false
}

// candidates lists the unmatched certificates of files, leaves first.
func candidates(files []*parsedFile) []*pending {
	var leaves, cas []*pending
	for _, f := range files {
		for i := range f.certs {
			p := &f.certs[i]
			switch {
			case p.match != stores.KeyAbsent:
			case p.isCA:
				cas = append(cas, p)
			default:
				leaves = append(leaves, p)
			}
		}
	}
	return append(leaves, cas...)
}

// leaves counts the non-CA certificates at the head of cands.
func leaves(cands []*pending) int {
	n := 0
	for n < len(cands) && !cands[n].isCA {
		n++
	}
	return n
}

func unused(keys []key) []*key {
	var out []*key
	for i := range keys {
		if !keys[i].used {
			out = append(out, &keys[i])
		}
	}
	return out
}

func anyUnused(keys []key) bool {
	for i := range keys {
		if !keys[i].used {
			return true
		}
	}
	return false
}
