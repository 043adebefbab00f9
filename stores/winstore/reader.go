// Package winstore reads Windows certificate store elements: the serialized
// form that Windows keeps in a registry Blob value
// (HKLM\SOFTWARE\Microsoft\SystemCertificates\<Store>\Certificates\<SHA1>) and
// in each file of a user's
// %APPDATA%\Microsoft\SystemCertificates\My\Certificates folder.
//
// The element parser is portable: element files (and .sst serialized stores)
// are read by path on every OS, which serves forensics and exported stores.
// On Windows the reader also enumerates the registry itself; see Read.
//
// For each element it reports the DER (property 32), the friendly name
// (property 11) as the label, and what property 2, the key provider info
// that links the certificate to a CAPI/CNG key container, leads to. Property
// 2 alone is only a link (the key may since have been deleted, live on a
// smart card, or never have existed: the property can be written beside any
// certificate). For the Microsoft software providers the container's file is
// looked up in the owner's (or the machine's) key folder and its clear public
// half compared with the certificate's: locked (matches; the private half is
// DPAPI-encrypted), mismatch, absent (the folder has no such file) or unknown
// (unreadable; logged); on Windows itself a private half that DPAPI
// decrypts for the running account is checked too (matched); see keylink.go. Other providers' keys stay linked.
// KeyNote names the provider, the container and what was found.
//
// Thumbprints: the SHA-1 of the DER is compared with property 3 and with the
// element's name (a file or registry key named by 40 hex digits). A mismatch
// means the element was altered or misfiled. The entry is still returned (the
// DER is what Windows would hand out) together with an ItemError wrapping
// ErrThumbprintMismatch, so nothing is hidden and nothing is lost.
package winstore

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/certsight/certsight/internal/fsafe"
	"github.com/certsight/certsight/stores"
	"github.com/certsight/certsight/stores/winstore/internal/element"
)

// MaxFileSize caps what Read loads from one file. A single element is a few
// KiB; a large .sst of every root is under 1 MiB.
const MaxFileSize = 64 << 20

// ErrThumbprintMismatch is wrapped by the ItemError reported when the SHA-1
// of the certificate differs from property 3 or from the element's name.
var ErrThumbprintMismatch = errors.New("SHA-1 thumbprint mismatch")

// ErrNotElement is reported for a named file that is not a store element.
var ErrNotElement = errors.New("not a serialized certificate store element")

// Reader reads Windows store elements. It implements stores.Reader.
type Reader struct {
	cfg stores.ReaderConfig
	// folders keeps the listings of key folders, which every key link of
	// a store looks through.
	folders *folderCache
}

var _ stores.Reader = (*Reader)(nil)

// Option configures a Reader.
type Option = stores.Option

// WithRoot makes Defaults (on Windows) look for the user stores of a file
// system mounted at dir (a disk image) instead of this machine's: the My
// store folder of each profile folder in dir's \Users (see stores.Rooted),
// with the folder name as username and no SID. The registry stores
// (LocalMachine My, loaded user hives) belong to the running system, not to
// the image, so they are skipped. Sources keep their real paths on this
// machine. Read is unaffected.
func WithRoot(dir string) Option { return stores.WithRoot(dir) }

// New returns a Reader that logs to logger (nil discards).
func New(logger *slog.Logger, opts ...Option) *Reader {
	return &Reader{cfg: stores.NewReaderConfig(stores.KindWinstore, logger, opts...), folders: &folderCache{}}
}

// Kind returns stores.KindWinstore.
func (r *Reader) Kind() stores.Kind { return r.cfg.Kind }

// Defaults returns, on Windows, the LocalMachine My store in the registry
// (system) and each user's My store (user): the Certificates folder of the
// profile and, for loaded hives, HKEY_USERS\<SID>\...\My\Certificates. It
// returns nothing on other systems. With WithRoot, only the profile folders
// of the file system mounted there.
func (r *Reader) Defaults(ctx context.Context) []stores.Source {
	return defaultSources(ctx, r.cfg.Log, r.cfg.Root)
}

// Sniff reports whether head, the first bytes of a file, is a serialized
// store element (property records with reserved = 1 and a plausible first
// id, checked as far as head reaches) or a serialized store (.sst).
func Sniff(head []byte) bool { return element.Sniff(head, MaxFileSize) }

// Read reads one source:
//   - a registry key path (HKLM\..., HKEY_USERS\..., HKCU\...) naming a
//     Certificates key, whose subkeys' Blob values are read, or one
//     <thumbprint> key with a Blob value; Windows only, an ItemError elsewhere;
//   - an element file or .sst file (read one element at a time);
//   - a directory: every element file directly in it (recognised by content).
//
// Entry.Path is the element's own path: the file, or the registry key of
// the element (…\Certificates\<thumbprint>).
func (r *Reader) Read(ctx context.Context, src stores.Source) stores.Seq {
	return func(yield func(stores.Entry, error) bool) { r.read(ctx, src, yield) }
}

// yielder is the consumer of one Read; every helper returns false once it
// has stopped.
type yielder = func(stores.Entry, error) bool

func (r *Reader) read(ctx context.Context, src stores.Source, yield yielder) {
	if err := ctx.Err(); err != nil {
		yield(stores.Entry{}, r.cfg.ItemError(src.Path, "", err))
		return
	}
	if root, sub, ok := SplitRegistryPath(src.Path); ok {
		r.readRegistry(ctx, src, root, sub, yield)
		return
	}
	r.cfg.ReadPath(ctx, src.Path, yield, func(p string, entry fs.DirEntry) bool {
		return r.readFile(ctx, src, p, entry == nil, yield)
	})
}

// readFile reads one element or .sst file. named says the caller named this
// file; a file of another kind in a directory is passed over quietly.
func (r *Reader) readFile(ctx context.Context, src stores.Source, path string, named bool, yield yielder) bool {
	fail := func(item string, err error) bool { return yield(stores.Entry{}, r.cfg.ItemError(path, item, err)) }
	fsys := fsafe.In(r.cfg.Root)
	if !named {
		if fi, err := fsys.Lstat(path); err != nil || !fi.Mode().IsRegular() {
			r.cfg.Log.Debug("skipping file that is not a store element", "path", path)
			return true
		}
	}
	f, err := fsys.Open(ctx, path)
	if err != nil {
		return fail("", err)
	}
	defer f.Close()
	if f.Size() > MaxFileSize {
		return fail("", fmt.Errorf("%w: %d bytes, limit %d", fsafe.ErrTooLarge, f.Size(), MaxFileSize))
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if !element.Sniff(head, MaxFileSize) {
		if !named {
			r.cfg.Log.Debug("skipping file that is not a store element", "path", path)
			return true
		}
		return fail("", ErrNotElement)
	}
	if element.IsStore(head) {
		// Stream the store: one element in memory at a time.
		i := 0
		stopped := false
		err := element.ScanStore(io.MultiReader(bytes.NewReader(head), f), func(el *element.Element) error {
			i++
			if err := ctx.Err(); err != nil {
				return err
			}
			if el.Context() != element.PropCert {
				return nil // a CRL or CTL
			}
			if !r.fromElement(ctx, el, src, path, fmt.Sprintf("element %d", i), "", yield) {
				stopped = true
				return errStopped
			}
			return nil
		})
		if stopped {
			return false
		}
		if err != nil {
			return fail("", err)
		}
		return true
	}
	data, err := io.ReadAll(io.MultiReader(bytes.NewReader(head), io.LimitReader(f, MaxFileSize)))
	if err != nil {
		return fail("", fmt.Errorf("reading: %w", err))
	}
	el, err := element.ParseElement(data)
	if err != nil {
		return fail("", err)
	}
	return r.fromElement(ctx, el, src, path, "", thumbprintName(filepath.Base(path)), yield)
}

// errStopped ends a store scan whose consumer stopped.
var errStopped = errors.New("consumer stopped")

// fromElement turns one parsed element into an entry. item names the element
// inside a larger file; thumb is the thumbprint its name claims, or "".
func (r *Reader) fromElement(ctx context.Context, el *element.Element, src stores.Source, path, item, thumb string, yield yielder) bool {
	fail := func(err error) bool { return yield(stores.Entry{}, r.cfg.ItemError(path, item, err)) }
	der := el.Certificate()
	if der == nil {
		return fail(errors.New("element holds no certificate (property 32)"))
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return fail(fmt.Errorf("parsing certificate: %w", err))
	}
	loc := src.Location
	if loc == "" {
		loc = stores.LocationPath
	}
	e := stores.NewEntry(c, stores.KindWinstore, loc, path)
	e.Username, e.SID = src.Username, src.SID

	sum := sha1.Sum(der)
	if v, ok := el.Property(element.PropSHA1Hash); ok && !equalFold(hex.EncodeToString(v), hex.EncodeToString(sum[:])) {
		if !fail(fmt.Errorf("%w: property 3 is %X, the certificate's SHA-1 is %X", ErrThumbprintMismatch, v, sum[:])) {
			return false
		}
	}
	if thumb != "" && !equalFold(thumb, hex.EncodeToString(sum[:])) {
		if !fail(fmt.Errorf("%w: named %s, the certificate's SHA-1 is %X", ErrThumbprintMismatch, thumb, sum[:])) {
			return false
		}
	}
	if name, err := el.FriendlyName(); err != nil {
		if !fail(err) {
			return false
		}
	} else {
		e.Label = name
	}
	if _, ok := el.Property(element.PropKeyProvInfo); ok {
		e.Key = stores.KeyLinked
		kpi, err := el.KeyProvInfo()
		switch {
		case err != nil:
			e.KeyNote = fmt.Sprintf("key linked by property 2, which is malformed (%v)", err)
		default:
			v := judgeKey(ctx, keyFS{FS: fsafe.In(r.cfg.Root), folders: r.folders, live: r.cfg.Root == ""}, c, kpi, r.homes(src, path), r.machineGUID())
			e.Key, e.KeyNote, e.KeyPath = v.match, v.note, v.path
			if v.match == stores.KeyUnknown {
				r.cfg.Log.Warn("private key state unknown", "path", path, "item", item, "why", v.note)
			}
		}
	}
	return yield(e, nil)
}

func keyNote(k *element.KeyProvInfo) string {
	kind := "CAPI provider"
	if k.ProviderType == 0 {
		kind = "CNG key storage provider"
	}
	owner := "user"
	if k.MachineKey() {
		owner = "machine"
	}
	return fmt.Sprintf("key linked by property 2: %s %q, %s container %q",
		kind, k.ProviderName, owner, k.ContainerName)
}

// thumbprintName returns name (less any extension) when it is 40 hex
// digits, the way Windows names elements; otherwise "".
func thumbprintName(name string) string {
	name = strings.TrimSuffix(name, filepath.Ext(name))
	if len(name) != 40 {
		return ""
	}
	if _, err := hex.DecodeString(name); err != nil {
		return ""
	}
	return name
}

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }
