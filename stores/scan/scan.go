// Package scan is the dispatcher over the store readers: it recognises each
// path by its content, not its name (a PEM file named .db is still PEM; a
// keychain named .pem is still a keychain), hands it to the reader of that
// kind, and reads the platform's default stores.
package scan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"

	"github.com/certsight/certsight/internal/fsafe"
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
	fs      fsafe.FS // every file and directory is opened through it
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
// Registry stores are skipped. Every path under dir, named or default, is
// resolved inside dir as a chroot would (absolute symlinks and ".." stay
// inside); Paths outside dir are read as named. An empty dir is /.
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
	pem := pemfile.New(logger, pemfile.WithRoot(o.root))
	return &Scanner{
		log: logger.With("component", "scan"),
		fs:  fsafe.In(o.root),
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
func (s *Scanner) Defaults(ctx context.Context, kinds ...stores.Kind) stores.Seq {
	return s.defaults(ctx, func(stores.Location) bool { return true }, kinds)
}

// DefaultsAt reads the default stores of one location (system or user), as
// posture's trust_stores names them.
func (s *Scanner) DefaultsAt(ctx context.Context, loc stores.Location, kinds ...stores.Kind) stores.Seq {
	return s.defaults(ctx, func(l stores.Location) bool { return l == loc }, kinds)
}

func (s *Scanner) defaults(ctx context.Context, keep func(stores.Location) bool, kinds []stores.Kind) stores.Seq {
	return func(yield func(stores.Entry, error) bool) {
		for _, r := range s.readers {
			if !wanted(r.Kind(), kinds) {
				continue
			}
			for _, src := range r.Defaults(ctx) {
				if err := ctx.Err(); err != nil {
					yield(stores.Entry{}, fmt.Errorf("reading default stores: %w", err))
					return
				}
				if !keep(src.Location) {
					continue
				}
				for e, err := range r.Read(ctx, src) {
					if !yield(e, err) {
						return
					}
				}
			}
		}
	}
}

// Paths reads each path by content: a file (PEM/DER, keychain, store
// element), a directory (an NSS database directory, else the files directly
// in it, each by content), a glob (expanded; `*`, `?`, `[...]`; a symlink
// that a wildcard matched is not followed). Location is "path". When kinds
// is non-empty only readers of those kinds are run. Also accepted: a
// cert9.db file (its directory is read), an NSS "sql:" or "dbm:" prefix
// (nssdb.SplitPrefix: "dbm:" names the legacy format, which the NSS reader
// refuses), and a Windows registry key path (HKLM\..., HKU\..., HKCU\...),
// which only the winstore reader on Windows can read.
//
// All PEM/DER files found in one call are read as one set, so a certificate
// and its key pair up whether they were named together, matched by one glob
// or sit in one directory. A named file whose content nothing recognises is
// an error; such files found in a directory or by a glob are skipped silently
// (directories such as /etc/ssl/certs hold other files). Nothing is read
// from kernel pseudo file systems (procfs, sysfs, ...) and nothing but
// regular files and directories.
func (s *Scanner) Paths(ctx context.Context, paths []string, kinds ...stores.Kind) stores.Seq {
	return func(yield func(stores.Entry, error) bool) {
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
		for _, err := range p.errs {
			if !yield(stores.Entry{}, err) {
				return
			}
		}
		ctxReported := false
		forward := func(seq stores.Seq) bool {
			for e, err := range seq {
				if err != nil && errors.Is(err, ctx.Err()) {
					ctxReported = true
				}
				if !yield(e, err) {
					return false
				}
			}
			return true
		}
		if len(p.pem) > 0 {
			if !forward(s.pem.ReadFiles(ctx, stores.Source{Location: stores.LocationPath}, p.pem)) {
				return
			}
		}
		for _, t := range p.targets {
			if ctx.Err() != nil {
				break
			}
			if r := s.reader(t.kind); r != nil {
				if !forward(r.Read(ctx, stores.Source{Path: t.path, Location: stores.LocationPath})) {
					return
				}
			}
		}
		if err := ctx.Err(); err != nil && !ctxReported {
			yield(stores.Entry{}, fmt.Errorf("reading paths: %w", err))
		}
	}
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
	if real, err := filepath.EvalSymlinks(path); err == nil && p.s.fs.Root == "" {
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
	fi, err := p.s.fs.Stat(path)
	dir, prefix := nssdb.SplitPrefix(path)
	switch {
	case err != nil && p.s.isRegistryPath != nil && p.s.isRegistryPath(path):
		p.add(stores.KindWinstore, path, true)
	case err != nil && prefix != "" && p.s.nssDir(dir):
		// The NSS reader takes the prefix as NSS tools do: "dbm:" asks
		// for the legacy format, which it refuses with a clear error;
		// "sql:" is what it reads anyway.
		if prefix == nssdb.PrefixSQL {
			prefix = ""
		}
		p.add(stores.KindNSSDB, nssdb.JoinPrefix(prefix, dir), true)
	case err == nil && fi.IsDir():
		p.dir(path, true)
	case err == nil && fi.Mode().IsRegular():
		p.file(path, true)
	case err == nil:
		p.fail(path, fsafe.ErrNotRegular)
	case fsafe.HasMeta(path):
		p.glob(path)
	default:
		p.fail(path, err)
	}
}

// glob reads each match by content. A glob that matches nothing is a
// question about no files, not an error.
func (p *plan) glob(pattern string) {
	matches, err := p.s.fs.Glob(p.ctx, pattern)
	if err != nil {
		p.fail(pattern, fmt.Errorf("glob: %w", err))
		return
	}
	for _, m := range matches {
		if p.ctx.Err() != nil {
			return
		}
		fi, err := p.s.fs.Lstat(m)
		switch {
		case err != nil:
			p.fail(m, err)
		case fi.IsDir():
			p.dir(m, false)
		case fi.Mode().IsRegular():
			p.file(m, false)
		}
	}
}

// dir plans a directory: the database it is, or each regular file directly
// in it by content (not recursive). A directory on a pseudo file system is
// an error when named, and passed over quietly when a glob found it.
func (p *plan) dir(dir string, named bool) {
	if p.s.nssDir(dir) {
		p.add(stores.KindNSSDB, dir, true)
		return
	}
	entries, err := p.s.fs.ReadDir(p.ctx, dir)
	if err != nil {
		if !named && errors.Is(err, fsafe.ErrPseudoFS) {
			p.s.log.Debug("not listing a pseudo file system", "path", dir)
			return
		}
		p.fail(dir, fmt.Errorf("listing: %w", err))
	}
	for _, e := range entries {
		if p.ctx.Err() != nil {
			return // Paths reports the context's error
		}
		f := filepath.Join(dir, e.Name())
		fi, err := p.s.fs.Stat(f)
		switch {
		case errors.Is(err, fs.ErrNotExist):
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
	head, err := p.s.fs.ReadHead(p.ctx, path, headSize)
	if err != nil {
		if !named && errors.Is(err, fsafe.ErrPseudoFS) {
			return
		}
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
		if all, err := p.s.fs.ReadHead(p.ctx, path, pemfile.MaxFileSize); err == nil && pemfile.Sniff(all) {
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
	for _, name := range []string{nssdb.CertDBName, nssdb.LegacyDBName} {
		f := filepath.Join(dir, name)
		if head, err := s.fs.ReadHead(context.Background(), f, headSize); err == nil && isNSSFile(f, head) {
			return true
		}
	}
	return false
}

// isNSSFile reports a file that names its directory as an NSS database:
// cert9.db or a legacy cert8.db that is not PEM. A cert9.db that is not
// SQLite (empty, a bad header) still makes an NSS database directory, so
// that the NSS reader says what is wrong with it instead of the directory
// being read as files and yielding nothing in silence; a PEM file that
// happens to bear the name is PEM.
func isNSSFile(path string, head []byte) bool {
	switch filepath.Base(path) {
	case nssdb.CertDBName, nssdb.LegacyDBName:
		return !pemfile.Sniff(head)
	}
	return false
}
