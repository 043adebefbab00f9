// Package pemfile reads certificates from PEM and DER files: a file, a
// directory of them, or a glob. Keys found among the files of one read are
// paired with certificates by public-key match, so a certificate and its key
// may share a file or sit in two (client.pem + client_key.pem).
//
// Private key material is never kept: cert.Parse returns only a key's public
// half, which is compared with the certificates and then dropped.
package pemfile

import (
	"bytes"
	"context"
	"log/slog"

	"github.com/certsight/certsight/stores"
)

// MaxFileSize is the largest file read. Certificate and key files are a few
// kilobytes; a system bundle is a few hundred. Anything larger is refused so
// that a misdirected path (a disk image, a log) cannot exhaust memory.
const MaxFileSize = 4 << 20

// Option configures a Reader.
type Option = stores.Option

// Recursive makes Read descend into subdirectories of a directory source.
func Recursive() Option { return stores.Recursive() }

// WithRoot confines the paths under dir (a mounted disk image, a
// container's root file system) to it: they are resolved as a chroot would.
func WithRoot(dir string) Option { return stores.WithRoot(dir) }

// Reader reads PEM and DER files. It implements stores.Reader.
type Reader struct{ cfg stores.ReaderConfig }

var _ stores.Reader = (*Reader)(nil)

// New returns a Reader; logger may be nil.
func New(logger *slog.Logger, opts ...Option) *Reader {
	return &Reader{cfg: stores.NewReaderConfig(stores.KindPEM, logger, opts...)}
}

// Kind returns stores.KindPEM.
func (r *Reader) Kind() stores.Kind { return r.cfg.Kind }

// Defaults returns nil. No platform keeps client certificates as PEM files in
// a standard place: /etc/ssl/certs and /etc/pki/tls/certs hold trust anchors,
// not client certificates with their keys, and the posture rules name their
// PEM files explicitly in "paths" (docs/contracts.md, "Posture config").
func (r *Reader) Defaults(context.Context) []stores.Source { return nil }

// Read reads src.Path: a file, a directory (recursively only with
// Recursive), or a glob (`*`, `?`, `[...]`). Files read together share one
// pool of keys for pairing (see ReadFiles). A file named explicitly that
// holds no certificate is an error; other files without certificates in a
// directory or glob are skipped silently.
func (r *Reader) Read(ctx context.Context, src stores.Source) stores.Seq {
	return stores.Stream(func(fn func(stores.Entry) error) []error {
		files, errs := r.Files(ctx, src.Path)
		return append(errs, r.readSet(ctx, src, files, r.loader(ctx), fn)...)
	})
}

// Sniff reports whether head, the first bytes of a file, looks like PEM (a
// BEGIN line) or DER (a SEQUENCE with a plausible length).
func Sniff(head []byte) bool {
	if bytes.Contains(head, []byte("-----BEGIN ")) {
		return true
	}
	if len(head) < 2 || head[0] != 0x30 {
		return false
	}
	l := head[1]
	if l >= 0x81 && l <= 0x84 {
		return true
	}
	// Short form: the whole object is under 130 bytes, so all of it is in
	// head and its length must account for exactly the rest.
	return l < 0x80 && int(l)+2 == len(head)
}
