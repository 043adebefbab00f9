package winstore

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/certsight/certsight/internal/fsafe"
	"github.com/certsight/certsight/stores"
	"github.com/certsight/certsight/stores/winstore/internal/element"
	"github.com/certsight/certsight/stores/winstore/internal/keyfile"
)

// What a key link (property 2) leads to.
//
// Property 2 names a key container; the software providers keep each
// container in a file named after a hash of its name (see package keyfile).
// When that file can be found, its clear public half is compared with the
// certificate's. The private half is DPAPI-encrypted under the owner's (or
// the machine's) master key. On the machine itself, a private half that
// DPAPI decrypts for the running account (a machine key for SYSTEM, a user's
// own key for that user) is checked against the certificate: "matched" or
// "mismatch". Otherwise a container whose public half matches is "locked",
// as an NSS key behind a password is: the clear public half can be copied
// beside any certificate, only the private half proves the key. A public half of another key is "mismatch"; a key
// folder that exists without the container's file is "absent"; a folder or
// file that cannot be read is "unknown", logged. Keys of other providers
// (smart cards, TPM, third parties) stay "linked".

// keyHomes says where the key folders of one store's owner are.
type keyHomes struct {
	// roaming is the owner's %APPDATA% (…\AppData\Roaming); "" when not known.
	roaming string
	// sid is the owner's SID, naming the CAPI key folder; "" means every
	// S-1-… folder of Crypto\RSA is searched.
	sid string
	// programData is %ProgramData% (machine keys); "" when not known.
	programData string
}

// providerKind sorts key providers by where they keep keys.
type providerKind int

const (
	providerOther   providerKind = iota // smart card, TPM, third party: no file here
	providerCAPIRSA                     // a Microsoft software RSA CSP: Crypto\RSA
	providerCNG                         // the Microsoft Software KSP: Crypto\Keys
)

// Provider types (wincrypt.h) of the Microsoft software RSA CSPs.
const (
	provRSAFull     = 1
	provRSASChannel = 12
	provRSAAES      = 24
)

func kindOf(k *element.KeyProvInfo) providerKind {
	name := strings.ToLower(k.ProviderName)
	if strings.Contains(name, "smart card") {
		return providerOther
	}
	if k.ProviderType == 0 {
		// An empty name is the default KSP, the software one.
		if name == "" || name == "microsoft software key storage provider" {
			return providerCNG
		}
		return providerOther
	}
	switch k.ProviderType {
	case provRSAFull, provRSASChannel, provRSAAES:
		if name == "" || strings.HasPrefix(name, "microsoft ") {
			return providerCAPIRSA
		}
	}
	return providerOther
}

// keyVerdict is what was established about one linked key.
type keyVerdict struct {
	match stores.KeyMatch
	note  string
	path  string // the key file, when one was read
}

// judgeKey follows property 2 to the key file of a software provider.
// machineGUID is HKLM\SOFTWARE\Microsoft\Cryptography\MachineGuid, or "".
func judgeKey(ctx context.Context, fsys keyFS, c *x509.Certificate, k *element.KeyProvInfo, h keyHomes, machineGUID string) keyVerdict {
	link := keyNote(k)
	kind := kindOf(k)
	if kind == providerOther {
		return keyVerdict{match: stores.KeyLinked, note: link + "; this provider keeps its keys elsewhere (a smart card, a TPM, another vendor)"}
	}
	var hash string
	var ok bool
	if kind == providerCAPIRSA {
		hash, ok = keyfile.CAPIFileHash(k.ContainerName)
	} else {
		hash, ok = keyfile.CNGFileHash(k.ContainerName)
	}
	if !ok {
		return keyVerdict{match: stores.KeyLinked, note: link + "; the container name is not ASCII, so its key file name depends on the machine's code page"}
	}
	dirs, why := keyDirs(ctx, fsys, kind, k.MachineKey(), h)
	if len(dirs) == 0 {
		return keyVerdict{match: stores.KeyLinked, note: link + "; " + why}
	}
	var (
		best     *keyVerdict
		missing  []string
		failures []string
	)
	for _, dir := range dirs {
		files, err := candidates(ctx, fsys, dir, hash, machineGUID)
		if errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, dir)
			continue
		}
		if err != nil {
			failures = append(failures, fmt.Sprintf("listing %s: %v", dir, err))
			continue
		}
		for _, p := range files {
			v := judgeFile(ctx, fsys, c, k, kind, p)
			if v.match == stores.KeyUnknown {
				failures = append(failures, v.note)
				continue
			}
			if best == nil || rank(v.match) > rank(best.match) {
				best = &v
			}
		}
	}
	switch {
	case best != nil:
		return *best
	case len(failures) > 0:
		return keyVerdict{match: stores.KeyUnknown, note: link + "; " + strings.Join(failures, "; ")}
	case len(missing) == len(dirs):
		// The folder a software provider would write is not there: the
		// profile may keep its keys elsewhere (a redirected AppData, Wine),
		// so this is not evidence of absence.
		return keyVerdict{match: stores.KeyUnknown, note: link + "; the key folder " + strings.Join(missing, ", ") + " does not exist"}
	}
	return keyVerdict{match: stores.KeyAbsent, note: link + "; no key file " + hash + "_* in " + strings.Join(dirs, ", ")}
}

// rank orders what key files showed, for several candidate files (a disk
// cloned from another machine keeps the old MachineGuid's files): the best
// evidence wins.
func rank(m stores.KeyMatch) int {
	switch m {
	case stores.KeyMatched:
		return 4
	case stores.KeyLocked:
		return 3
	case stores.KeyMismatch:
		return 2
	case stores.KeyAbsent:
		return 1
	}
	return 0
}

// keyDirs lists the folders that may hold the key, or says why none is known.
func keyDirs(ctx context.Context, fsys keyFS, kind providerKind, machine bool, h keyHomes) ([]string, string) {
	if machine {
		if h.programData == "" {
			return nil, "the machine's key folder (%ProgramData%) is not known for this store"
		}
		if kind == providerCAPIRSA {
			return []string{filepath.Join(h.programData, "Microsoft", "Crypto", "RSA", "MachineKeys")}, ""
		}
		return []string{filepath.Join(h.programData, "Microsoft", "Crypto", "Keys")}, ""
	}
	if h.roaming == "" {
		return nil, "the owner's key folder (%APPDATA%) is not known for this store"
	}
	if kind == providerCNG {
		return []string{filepath.Join(h.roaming, "Microsoft", "Crypto", "Keys")}, ""
	}
	rsaDir := filepath.Join(h.roaming, "Microsoft", "Crypto", "RSA")
	if h.sid != "" {
		return []string{filepath.Join(rsaDir, h.sid)}, ""
	}
	// No SID (a mounted image): each S-1-… folder, as a profile normally
	// has exactly one. Without any, Crypto\RSA itself is searched, so that
	// its absence (or an unreadable folder) is reported as such.
	ents, err := fsys.ReadDir(ctx, rsaDir)
	if err != nil {
		return []string{rsaDir}, ""
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(strings.ToUpper(e.Name()), "S-1-") {
			out = append(out, filepath.Join(rsaDir, e.Name()))
		}
	}
	if len(out) == 0 {
		out = []string{rsaDir}
	}
	return out, ""
}

// maxKeyFolder bounds how many names of one key folder are looked at: a
// MachineKeys folder collects orphaned containers, tens of thousands on
// some servers, and the names are only compared.
const maxKeyFolder = 200_000

// candidates lists the files of dir named <hash>_<anything>; with a known
// MachineGuid, only <hash>_<MachineGuid> when it is there (one stat, no
// listing: what a live Windows machine needs).
func candidates(ctx context.Context, fsys keyFS, dir, hash, machineGUID string) ([]string, error) {
	if machineGUID != "" {
		p := filepath.Join(dir, hash+"_"+machineGUID)
		if fsys.IsRegular(p) {
			return []string{p}, nil
		}
	}
	names, err := fsys.names(ctx, dir)
	if err != nil {
		return nil, err
	}
	var all []string
	for _, name := range names {
		if len(name) > len(hash) && strings.EqualFold(name[:len(hash)], hash) && name[len(hash)] == '_' {
			all = append(all, filepath.Join(dir, name))
		}
	}
	return all, nil
}

// keyFS reads key folders and files through fsafe, listing each folder
// once while it is unchanged.
type keyFS struct {
	fsafe.FS
	folders *folderCache
	// live says the files are this running Windows machine's own (no
	// --root), so DPAPI may decrypt their private halves.
	live bool
}

// folderCache holds key folder listings, each valid while the folder's
// modification time is unchanged (adding, removing or renaming an entry
// changes it). A reader serving many queries keeps at most maxFolders.
type folderCache struct {
	mu sync.Mutex
	m  map[string]folderListing
}

type folderListing struct {
	mod   time.Time
	names []string
}

const maxFolders = 64

func (f keyFS) names(ctx context.Context, dir string) ([]string, error) {
	fi, err := f.Stat(dir)
	if err != nil {
		return nil, err
	}
	key := f.Root + "\x00" + dir
	if f.folders != nil {
		f.folders.mu.Lock()
		l, ok := f.folders.m[key]
		f.folders.mu.Unlock()
		if ok && l.mod.Equal(fi.ModTime()) {
			return l.names, nil
		}
	}
	ents, err := f.ReadDir(ctx, dir)
	if err != nil && len(ents) == 0 {
		return nil, err
	}
	if len(ents) > maxKeyFolder {
		return nil, fmt.Errorf("%d entries, more than the %d looked at", len(ents), maxKeyFolder)
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if f.folders != nil && err == nil {
		f.folders.mu.Lock()
		if f.folders.m == nil || len(f.folders.m) >= maxFolders {
			f.folders.m = map[string]folderListing{}
		}
		f.folders.m[key] = folderListing{mod: fi.ModTime(), names: names}
		f.folders.mu.Unlock()
	}
	return names, nil
}

// judgeFile reads one key file and compares it with the certificate.
func judgeFile(ctx context.Context, fsys keyFS, c *x509.Certificate, k *element.KeyProvInfo, kind providerKind, path string) keyVerdict {
	link := keyNote(k)
	data, err := fsys.ReadFile(ctx, path, keyfile.MaxFileSize)
	if err != nil {
		return keyVerdict{match: stores.KeyUnknown, note: fmt.Sprintf("reading key file %s: %v", path, err), path: path}
	}
	var (
		stored   string
		public   func() (crypto.PublicKey, error)
		private  bool
		privBlob []byte // the private half, which DPAPI may decrypt
		entropy  []byte // its DPAPI entropy
		belongs  func(plain []byte) (bool, error)
	)
	if kind == providerCAPIRSA {
		cont, err := keyfile.ParseCAPI(data)
		if err != nil {
			return keyVerdict{match: stores.KeyUnknown, note: fmt.Sprintf("key file %s: %v", path, err), path: path}
		}
		pair, ok := cont.Pair(k.KeySpec)
		if !ok {
			return keyVerdict{match: stores.KeyLinked, note: fmt.Sprintf("%s; key file %s found, but key spec %d names neither of its key pairs", link, path, k.KeySpec), path: path}
		}
		stored, private, privBlob = cont.Name, pair.Present(), pair.Private
		belongs = func(plain []byte) (bool, error) {
			pub, isRSA := c.PublicKey.(*rsa.PublicKey)
			k, err := keyfile.ParseCAPIPrivateKey(plain)
			if err != nil {
				return false, err
			}
			return isRSA && k.Belongs(pub), nil
		}
		public = func() (crypto.PublicKey, error) {
			if len(pair.Public) == 0 {
				return nil, keyfile.ErrNoPublicKey
			}
			return keyfile.ParseCAPIPublicKey(pair.Public)
		}
	} else {
		key, err := keyfile.ParseCNG(data)
		if err != nil {
			return keyVerdict{match: stores.KeyUnknown, note: fmt.Sprintf("key file %s: %v", path, err), path: path}
		}
		stored, private, public = key.Name, len(key.PrivateKey) > 0, key.PublicKey
		privBlob, entropy = key.PrivateKey, keyfile.CNGPrivateKeyEntropy
		belongs = func(plain []byte) (bool, error) { return keyfile.CNGPrivateBelongs(plain, c.PublicKey) }
	}
	if !strings.EqualFold(stored, k.ContainerName) {
		// The hash of the name matched, the stored name does not: a file
		// put there by hand. It is not this container.
		return keyVerdict{match: stores.KeyUnknown, note: fmt.Sprintf("key file %s is named for container %q, not %q", path, stored, k.ContainerName), path: path}
	}
	if !private {
		return keyVerdict{match: stores.KeyAbsent, note: fmt.Sprintf("%s; key file %s holds no private key for it", link, path), path: path}
	}
	pub, err := public()
	switch {
	case errors.Is(err, keyfile.ErrNoPublicKey):
		// As for an NSS key object without a clear public half: nothing
		// was compared, so the file is only a better-founded link.
		return keyVerdict{match: stores.KeyLinked, note: fmt.Sprintf("%s; key file %s found: it holds a DPAPI-encrypted private key and no clear public half, so nothing was compared", link, path), path: path}
	case errors.Is(err, keyfile.ErrUnsupportedKey):
		return keyVerdict{match: stores.KeyLinked, note: fmt.Sprintf("%s; key file %s holds %v", link, path, err), path: path}
	case err != nil:
		return keyVerdict{match: stores.KeyUnknown, note: fmt.Sprintf("key file %s: %v", path, err), path: path}
	}
	eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !eq.Equal(c.PublicKey) {
		return keyVerdict{match: stores.KeyMismatch, note: fmt.Sprintf("%s; key file %s holds another public key", link, path), path: path}
	}
	if len(privBlob) > 0 && fsys.live {
		if v, ok := checkPrivate(privBlob, entropy, belongs, link, path); ok {
			return v
		}
	}
	return keyVerdict{match: stores.KeyLocked, note: fmt.Sprintf("%s; key file %s: its public half matches, its private half is DPAPI-encrypted and was not checked", link, path), path: path}
}

// checkPrivate decrypts a private half with DPAPI, as the running account,
// and checks it against the certificate with belongs. ok is false when it
// could not be decrypted here (a user's key read by SYSTEM): the key then
// stays locked. The plaintext is wiped before returning.
func checkPrivate(blob, entropy []byte, belongs func([]byte) (bool, error), link, path string) (keyVerdict, bool) {
	plain, err := unprotect(blob, entropy)
	if err != nil {
		return keyVerdict{}, false
	}
	defer clear(plain)
	ok, err := belongs(plain)
	switch {
	case err != nil:
		// A layout this reader does not know is not evidence against the
		// key: it stays locked.
		return keyVerdict{match: stores.KeyLocked, note: fmt.Sprintf("%s; key file %s: its public half matches; its private half was decrypted, but its layout is not understood (%v)", link, path, err), path: path}, true
	case !ok:
		return keyVerdict{match: stores.KeyMismatch, note: fmt.Sprintf("%s; key file %s: its public half matches, but its private half belongs to another key", link, path), path: path}, true
	}
	return keyVerdict{match: stores.KeyMatched, note: fmt.Sprintf("private key in %s: decrypted with DPAPI as this account and checked against the certificate", path), path: path}, true
}

// errDPAPIUnavailable: the private half cannot be decrypted here.
var errDPAPIUnavailable = errors.New("DPAPI is not available here")
