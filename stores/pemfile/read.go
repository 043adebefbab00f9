package pemfile

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/stores"
)

// Notes put in Entry.KeyNote.
const (
	NoteEncrypted     = "private key is encrypted; match not checked"
	NoteMismatch      = "private key in the same file belongs to another certificate"
	NoteMismatchOther = "private key in %s belongs to another certificate"
)

var errKeyOnly = errors.New("no certificate in file, and its private key matches none of the certificates read")

// parsedFile is what one file held. keys carry public halves only.
type parsedFile struct {
	path  string
	named bool
	certs []*pending
	keys  []*key
}

type key struct {
	public    crypto.PublicKey // nil when encrypted
	encrypted bool
	used      bool // matched or paired with a certificate
}

type pending struct {
	c       *x509.Certificate
	match   stores.KeyMatch
	note    string
	keyPath string
}

// ReadFiles reads files as one set: a key in any of them pairs with the
// certificate it belongs to, wherever that is. Each file is read once even if
// listed twice or through a symlink. Entries get src's location and owner.
// When ctx ends between files, the entries read so far are returned with
// ctx's error.
func (r *Reader) ReadFiles(ctx context.Context, src stores.Source, files []File) stores.Result {
	var res stores.Result
	var parsed []*parsedFile
	seen := map[string]bool{}
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			res.Errors = append(res.Errors, fmt.Errorf("reading PEM files: %w", err))
			break
		}
		if i == len(files) {
			break
		}
		f := files[i]
		id := f.Path
		if real, err := filepath.EvalSymlinks(f.Path); err == nil {
			id = real
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		pf, err := r.readFile(f)
		if err != nil {
			res.Errors = append(res.Errors, &stores.ItemError{Store: stores.KindPEM, Path: f.Path, Err: err})
		}
		if pf != nil {
			parsed = append(parsed, pf)
		}
	}

	res.Add(entries(src, parsed))
	return res
}

// entries pairs keys with certificates across parsed and builds the
// entries, with an error for each named key-only file whose key went unused.
func entries(src stores.Source, parsed []*parsedFile) stores.Result {
	var res stores.Result
	pair(parsed)
	for _, pf := range parsed {
		if len(pf.certs) == 0 {
			if pf.named && anyUnused(pf.keys) {
				res.Errors = append(res.Errors, &stores.ItemError{Store: stores.KindPEM, Path: pf.path, Err: errKeyOnly})
			}
			continue
		}
		for _, p := range pf.certs {
			e := stores.NewEntry(p.c, stores.KindPEM, src.Location, pf.path)
			e.Username, e.SID = src.Username, src.SID
			e.Key, e.KeyNote, e.KeyPath = p.match, p.note, p.keyPath
			res.Entries = append(res.Entries, e)
		}
	}
	return res
}

// readFile parses one file. It returns nil and no error for a file that is
// not PEM/DER and was not named; a file with some blocks that failed to parse
// returns both what parsed and an error.
func (r *Reader) readFile(f File) (*parsedFile, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errNotRegular
	}
	if fi.Size() > MaxFileSize {
		return nil, errTooLarge
	}
	data, err := readCapped(fh)
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	return r.parseFile(f, data)
}

// parseFile parses the content of one file (see readFile).
func (r *Reader) parseFile(f File, data []byte) (*parsedFile, error) {
	b, err := cert.Parse(data)
	if errors.Is(err, cert.ErrNoContent) {
		if f.Named {
			return nil, errors.New("no certificate or private key found (not PEM or DER)")
		}
		r.log.Debug("skipping file without certificates", "path", f.Path)
		return nil, nil
	}
	pf := &parsedFile{path: f.Path, named: f.Named}
	for _, c := range b.Certificates {
		pf.certs = append(pf.certs, &pending{c: c})
	}
	for _, k := range b.Keys {
		pf.keys = append(pf.keys, &key{public: k.Public, encrypted: k.Encrypted})
	}
	if err != nil {
		return pf, err
	}
	if len(b.Problems) > 0 {
		return pf, fmt.Errorf("some blocks did not parse: %w", errors.Join(b.Problems...))
	}
	return pf, nil
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
//
// The public keys are dropped afterwards.
func pair(files []*parsedFile) {
	for _, f := range files {
		for _, p := range f.certs {
			if matchIn(p, f, f) {
				continue
			}
			for _, g := range files {
				if g != f && matchIn(p, f, g) {
					break
				}
			}
		}
	}

	for _, f := range files {
		left := unused(f.keys)
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
	cands := candidates(files)
	if n := leaves(cands); n > 0 {
		cands = cands[:n]
	}
	if len(left) == 1 && len(cands) == 1 {
		left[0].used = true
		cands[0].keyPath = leftFile
		if left[0].encrypted {
			cands[0].match, cands[0].note = stores.KeyLocked, NoteEncrypted
		} else {
			cands[0].match, cands[0].note = stores.KeyMismatch, fmt.Sprintf(NoteMismatchOther, leftFile)
		}
	}

	for _, f := range files {
		for _, k := range f.keys {
			k.public = nil
		}
	}
}

// matchIn marks p matched when a readable key of g belongs to it. f is p's
// own file; KeyPath is set only when the key lives elsewhere.
func matchIn(p *pending, f, g *parsedFile) bool {
	for _, k := range g.keys {
		if k.encrypted || !cert.KeyMatches(p.c, k.public) {
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
		for _, p := range f.certs {
			switch {
			case p.match != stores.KeyAbsent:
			case p.c.IsCA:
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
	for n < len(cands) && !cands[n].c.IsCA {
		n++
	}
	return n
}

func unused(keys []*key) []*key {
	var out []*key
	for _, k := range keys {
		if !k.used {
			out = append(out, k)
		}
	}
	return out
}

func anyUnused(keys []*key) bool { return len(unused(keys)) > 0 }
