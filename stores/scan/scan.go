// Package scan is the dispatcher over the store readers: it recognises each
// path by its content, not its name (a PEM file named .db is still PEM; a
// keychain named .pem is still a keychain), hands it to the reader of that
// kind, and reads the platform's default stores.
package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/certsight/certsight/stores"
	"github.com/certsight/certsight/stores/keychain"
	"github.com/certsight/certsight/stores/nssdb"
	"github.com/certsight/certsight/stores/pemfile"
	"github.com/certsight/certsight/stores/winstore"
)

// headSize is how much of a file the sniffers see.
const headSize = 512

// ErrUnrecognised is returned for a file named explicitly whose content no
// reader recognises.
var ErrUnrecognised = errors.New("unrecognised content (not PEM, DER, a keychain or a Windows store element)")

// sniffer recognises one kind of store file by its first bytes.
type sniffer struct {
	kind  stores.Kind
	sniff func(head []byte) bool
}

// Scanner holds one reader per store kind.
type Scanner struct {
	log     *slog.Logger
	pem     *pemfile.Reader
	readers []stores.Reader // in the order their entries are returned
	// sniffers are tried in order; PEM/DER comes last because its DER test
	// (a leading SEQUENCE) is the weakest.
	sniffers []sniffer
	// isDatabaseDir recognises a store that is a directory (NSS).
	isDatabaseDir func(dir string) bool
	// isRegistryPath recognises a Windows registry key path (HKLM\...),
	// which the winstore reader reads on Windows.
	isRegistryPath func(path string) bool
}

// Option configures a Scanner.
type Option func(*options)

type options struct {
	root string
}

// WithRoot makes Defaults and DefaultsAt read the default stores of a file
// system mounted at dir (a disk image, a container's root file system)
// instead of this machine's, in this OS's layout: each reader looks for its
// system stores and its users' homes under dir (see the readers' WithRoot).
// Entries keep their real paths on this machine (dir/etc/pki/nssdb).
// Registry stores are skipped. Paths is unaffected. An empty dir is /.
func WithRoot(dir string) Option { return func(o *options) { o.root = dir } }

// New returns a Scanner with every reader; logger may be nil.
func New(logger *slog.Logger, opts ...Option) *Scanner {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	pem := pemfile.New(logger)
	return &Scanner{
		log: logger.With("component", "scan"),
		pem: pem,
		readers: []stores.Reader{
			nssdb.New(logger, nssdb.WithRoot(o.root)),
			keychain.New(logger, keychain.WithRoot(o.root)),
			winstore.New(logger, winstore.WithRoot(o.root)),
			pem,
		},
		sniffers: []sniffer{
			{stores.KindKeychain, keychain.Sniff},
			{stores.KindWinstore, winstore.Sniff},
			{stores.KindPEM, pemfile.Sniff},
		},
		isDatabaseDir:  nssdb.IsDatabaseDir,
		isRegistryPath: winstore.IsRegistryPath,
	}
}

func (s *Scanner) reader(k stores.Kind) stores.Reader {
	for _, r := range s.readers {
		if r.Kind() == k {
			return r
		}
	}
	return nil
}

// wanted reports whether kind k is to be read.
func wanted(k stores.Kind, kinds []stores.Kind) bool {
	return len(kinds) == 0 || slices.Contains(kinds, k)
}

// Defaults reads the platform's default stores (every reader's Defaults),
// restricted to kinds when given.
func (s *Scanner) Defaults(ctx context.Context, kinds ...stores.Kind) stores.Result {
	var res stores.Result
	errs := s.DefaultsEach(ctx, res.Collect, kinds...)
	res.Errors = errs
	return res
}

// DefaultsEach reads like Defaults and hands each entry to fn in the same
// order, so that the caller need not hold them all. When fn fails, reading
// stops and fn's error is the last one returned.
func (s *Scanner) DefaultsEach(ctx context.Context, fn func(stores.Entry) error, kinds ...stores.Kind) []error {
	return s.defaults(ctx, func(stores.Location) bool { return true }, kinds, fn)
}

// DefaultsAt reads the default stores of one location (system or user), as
// posture's trust_stores names them.
func (s *Scanner) DefaultsAt(ctx context.Context, loc stores.Location, kinds ...stores.Kind) stores.Result {
	var res stores.Result
	errs := s.defaults(ctx, func(l stores.Location) bool { return l == loc }, kinds, res.Collect)
	res.Errors = errs
	return res
}

func (s *Scanner) defaults(ctx context.Context, keep func(stores.Location) bool, kinds []stores.Kind, fn func(stores.Entry) error) []error {
	var errs []error
	stop := stopper(fn)
	for _, r := range s.readers {
		if !wanted(r.Kind(), kinds) {
			continue
		}
		for _, src := range r.Defaults(ctx) {
			if err := ctx.Err(); err != nil {
				return append(errs, fmt.Errorf("reading default stores: %w", err))
			}
			if keep(src.Location) {
				errs = append(errs, stores.ReadEach(ctx, r, src, stop.fn)...)
				if stop.err != nil {
					return errs // fn's error is already last
				}
			}
		}
	}
	return errs
}

// stopped remembers the error with which fn asked a read to stop, so that
// reading does not go on to the next store.
type stopped struct {
	fn  func(stores.Entry) error
	err error
}

func stopper(fn func(stores.Entry) error) *stopped {
	st := &stopped{}
	st.fn = func(e stores.Entry) error {
		if err := fn(e); err != nil {
			st.err = err
			return err
		}
		return nil
	}
	return st
}

// Paths reads each path by content: a file (PEM/DER, keychain, store
// element), a directory (an NSS database directory, else the files directly
// in it, each by content), a glob (expanded; `*`, `?`, `[...]`). Location is
// "path". When kinds is non-empty only readers of those kinds are run.
// Also accepted: a cert9.db file (its directory is read), an NSS "sql:" or
// "dbm:" prefix, and a Windows registry key path (HKLM\..., HKU\...,
// HKCU\...), which only the winstore reader on Windows can read.
//
// All PEM/DER files found in one call are read as one set, so a certificate
// and its key pair up whether they were named together, matched by one glob
// or sit in one directory. A named file whose content nothing recognises is
// an error; such files found in a directory or by a glob are skipped silently
// (directories such as /etc/ssl/certs hold other files).
func (s *Scanner) Paths(ctx context.Context, paths []string, kinds ...stores.Kind) stores.Result {
	var res stores.Result
	errs := s.PathsEach(ctx, paths, res.Collect, kinds...)
	res.Errors = errs
	return res
}

// PathsEach reads like Paths and hands each entry to fn in the same order,
// so that the caller need not hold them all. When fn fails, reading stops
// and fn's error is the last one returned.
func (s *Scanner) PathsEach(ctx context.Context, paths []string, fn func(stores.Entry) error, kinds ...stores.Kind) []error {
	p := plan{ctx: ctx, s: s, kinds: kinds, seen: map[string]bool{}}
	done := map[string]bool{}
	for _, path := range paths {
		if err := ctx.Err(); err != nil {
			break // reported below
		}
		if path == "" || done[filepath.Clean(path)] {
			continue
		}
		done[filepath.Clean(path)] = true
		p.path(path)
	}

	errs := p.errs
	stop := stopper(fn)
	if len(p.pem) > 0 {
		errs = append(errs, s.pem.ReadFilesEach(ctx, stores.Source{Location: stores.LocationPath}, p.pem, stop.fn)...)
		p.pem = nil
		if stop.err != nil {
			return errs
		}
	}
	for _, t := range p.targets {
		if ctx.Err() != nil {
			break
		}
		if r := s.reader(t.kind); r != nil {
			errs = append(errs, stores.ReadEach(ctx, r, stores.Source{Path: t.path, Location: stores.LocationPath}, stop.fn)...)
			if stop.err != nil {
				return errs
			}
		}
	}
	if err := ctx.Err(); err != nil && !hasErr(errs, err) {
		errs = append(errs, fmt.Errorf("reading paths: %w", err))
	}
	return errs
}

func hasErr(errs []error, target error) bool {
	for _, e := range errs {
		if errors.Is(e, target) {
			return true
		}
	}
	return false
}

// target is one store to hand to a reader other than pemfile.
type target struct {
	kind stores.Kind
	path string
}

// plan sorts the paths of one Paths call into what each reader will read.
type plan struct {
	ctx     context.Context
	s       *Scanner
	kinds   []stores.Kind
	seen    map[string]bool // kind + real path of everything planned
	pem     []pemfile.File
	targets []target
	errs    []error
}

func (p *plan) fail(path string, err error) {
	p.errs = append(p.errs, &stores.ItemError{Path: path, Err: err})
}

// first reports whether path is planned for kind for the first time, by its
// real path so that a symlink and its target are read once.
func (p *plan) first(kind stores.Kind, path string) bool {
	id := path
	if real, err := filepath.EvalSymlinks(path); err == nil {
		id = real
	}
	key := string(kind) + "\x00" + id
	if p.seen[key] {
		return false
	}
	p.seen[key] = true
	return true
}

func (p *plan) add(kind stores.Kind, path string, named bool) {
	if !wanted(kind, p.kinds) {
		p.s.log.Debug("skipping store of an unwanted kind", "path", path, "kind", kind)
		return
	}
	if !p.first(kind, path) {
		return
	}
	if kind == stores.KindPEM {
		p.pem = append(p.pem, pemfile.File{Path: path, Named: named})
		return
	}
	p.targets = append(p.targets, target{kind: kind, path: path})
}

func (p *plan) path(path string) {
	fi, err := os.Stat(path)
	switch {
	case err != nil && p.s.isRegistryPath != nil && p.s.isRegistryPath(path):
		p.add(stores.KindWinstore, path, true)
	case err != nil && hasNSSPrefix(path) && p.s.nssDir(path[len("sql:"):]):
		p.add(stores.KindNSSDB, path[len("sql:"):], true)
	case err == nil && fi.IsDir():
		p.dir(path)
	case err == nil && fi.Mode().IsRegular():
		p.file(path, true)
	case err == nil:
		p.fail(path, errors.New("not a regular file or directory"))
	case pemfile.HasMeta(path):
		p.glob(path)
	default:
		p.fail(path, err)
	}
}

// glob reads each match by content. A glob that matches nothing is a
// question about no files, not an error.
func (p *plan) glob(pattern string) {
	matches, err := filepath.Glob(pattern)
	if err != nil {
		p.fail(pattern, fmt.Errorf("glob: %w", err))
		return
	}
	for _, m := range matches {
		if p.ctx.Err() != nil {
			return
		}
		fi, err := os.Stat(m)
		switch {
		case err != nil:
			p.fail(m, err)
		case fi.IsDir():
			p.dir(m)
		case fi.Mode().IsRegular():
			p.file(m, false)
		}
	}
}

// dir plans a directory: the database it is, or each regular file directly
// in it by content (not recursive).
func (p *plan) dir(dir string) {
	if p.s.nssDir(dir) {
		p.add(stores.KindNSSDB, dir, true)
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		p.fail(dir, fmt.Errorf("listing: %w", err))
	}
	for _, e := range entries {
		if p.ctx.Err() != nil {
			return // Paths reports the context's error
		}
		f := filepath.Join(dir, e.Name())
		fi, err := os.Stat(f)
		switch {
		case errors.Is(err, os.ErrNotExist):
			p.s.log.Debug("skipping dangling link", "path", f)
		case err != nil:
			p.fail(f, err)
		case fi.Mode().IsRegular():
			p.file(f, false)
		}
	}
}

// file plans one regular file by its content. named is true for a file the
// caller named itself.
func (p *plan) file(path string, named bool) {
	head, err := readHead(path, headSize)
	if err != nil {
		p.fail(path, err)
		return
	}
	if isNSSFile(path, head) && p.s.nssDir(filepath.Dir(path)) {
		p.add(stores.KindNSSDB, filepath.Dir(path), true)
		return
	}
	for _, sn := range p.s.sniffers {
		if sn.sniff(head) {
			p.add(sn.kind, path, named)
			return
		}
	}
	// PEM after a long preamble (`openssl x509 -text` output puts several
	// kilobytes of text before the BEGIN line): worth a full look only for
	// a file the caller named.
	if named && len(head) == headSize {
		if all, err := readHead(path, pemfile.MaxFileSize); err == nil && pemfile.Sniff(all) {
			p.add(stores.KindPEM, path, named)
			return
		}
	}
	if named {
		p.fail(path, ErrUnrecognised)
		return
	}
	p.s.log.Debug("skipping file of unrecognised content", "path", path)
}

// nssDir reports an NSS database directory whose database file is what its
// name says (so a directory holding a PEM file named cert9.db is read as a
// directory of files).
func (s *Scanner) nssDir(dir string) bool {
	if s.isDatabaseDir == nil || !s.isDatabaseDir(dir) {
		return false
	}
	for _, name := range []string{"cert9.db", "cert8.db"} {
		f := filepath.Join(dir, name)
		if head, err := readHead(f, headSize); err == nil && isNSSFile(f, head) {
			return true
		}
	}
	return false
}

// isNSSFile reports a file that names its directory as an NSS database:
// cert9.db (SQLite) or a legacy cert8.db (Berkeley DB, which the NSS reader
// reports as unsupported). A PEM file that happens to bear the name is PEM.
func isNSSFile(path string, head []byte) bool {
	switch filepath.Base(path) {
	case "cert9.db":
		return bytes.HasPrefix(head, []byte("SQLite format 3\x00"))
	case "cert8.db":
		return !pemfile.Sniff(head)
	}
	return false
}

// hasNSSPrefix reports the "sql:" or "dbm:" prefix that NSS tools put before
// a database directory, which users copy from certutil command lines.
func hasNSSPrefix(path string) bool {
	return strings.HasPrefix(path, "sql:") || strings.HasPrefix(path, "dbm:")
}

// readHead reads up to n bytes from the start of path.
func readHead(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, n))
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	return b, nil
}
