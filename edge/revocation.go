package edge

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// CRLSet holds the CRLs read from a list of files (PEM with one or more
// "X509 CRL" blocks, or one DER CRL each) and re-reads a file when its size or
// modification time changes. Files are looked at, at most, once per
// CheckInterval, on use: no watcher goroutine, no restart.
//
// A CRL counts only for a certificate whose issuer's key verifies the CRL's
// signature and only while it is current (ThisUpdate ≤ now < NextUpdate; a
// CRL without NextUpdate never counts). A certificate no CRL covers is not
// revoked: this is soft-fail, unlike nginx, which fails verification when a
// CA of the chain has no CRL.
type CRLSet struct {
	paths []string
	log   *slog.Logger
	// CheckInterval throttles the stat calls; zero means one second.
	CheckInterval time.Duration

	mu        sync.Mutex
	files     []crlFile
	lastCheck time.Time
	loaded    []*crlEntry // flattened snapshot of every file's CRLs
}

type crlFile struct {
	path    string
	size    int64
	modTime time.Time
	crls    []*crlEntry
}

type crlEntry struct {
	list    *x509.RevocationList
	revoked map[string]struct{} // serial magnitude bytes
	mu      sync.Mutex
	sigOK   map[[32]byte]bool // issuer certificate SHA-256 → signature verified
}

// NewCRLSet reads every file; a file that cannot be read or parsed is an
// error at start. Later, a broken replacement is logged and the previous
// contents are kept.
func NewCRLSet(paths []string, logger *slog.Logger) (*CRLSet, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &CRLSet{paths: append([]string(nil), paths...), log: logger}
	s.files = make([]crlFile, len(paths))
	for i, p := range paths {
		s.files[i].path = p
		if err := s.files[i].load(); err != nil {
			return nil, err
		}
	}
	s.lastCheck = time.Now()
	s.flatten()
	for _, f := range s.files {
		s.warnIfNotCurrent(f, s.lastCheck)
	}
	return s, nil
}

// warnIfNotCurrent tells the operator about CRLs that will be ignored
// because they are not current.
func (s *CRLSet) warnIfNotCurrent(f crlFile, now time.Time) {
	for _, e := range f.crls {
		l := e.list
		if now.Before(l.ThisUpdate) || l.NextUpdate.IsZero() || !now.Before(l.NextUpdate) {
			s.log.Warn("CRL is not current and will not be used", "path", f.path,
				"issuer", l.Issuer.String(), "this_update", l.ThisUpdate, "next_update", l.NextUpdate)
		}
	}
}

func (f *crlFile) load() error {
	st, err := os.Stat(f.path)
	if err != nil {
		return fmt.Errorf("reading CRL %s: %w", f.path, err)
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("reading CRL %s: %w", f.path, err)
	}
	crls, err := parseCRLs(data)
	if err != nil {
		return fmt.Errorf("parsing CRL %s: %w", f.path, err)
	}
	f.size, f.modTime, f.crls = st.Size(), st.ModTime(), crls
	return nil
}

// parseCRLs reads DER or PEM CRLs. PEM input must hold at least one
// "X509 CRL" block; other blocks are ignored.
func parseCRLs(data []byte) ([]*crlEntry, error) {
	var ders [][]byte
	if bytes.Contains(data, []byte("-----BEGIN")) {
		rest := data
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type == "X509 CRL" {
				ders = append(ders, b.Bytes)
			}
		}
		if len(ders) == 0 {
			return nil, errors.New("no X509 CRL block in PEM")
		}
	} else {
		ders = [][]byte{data}
	}
	out := make([]*crlEntry, 0, len(ders))
	for i, der := range ders {
		l, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, fmt.Errorf("CRL %d: %w", i+1, err)
		}
		e := &crlEntry{list: l, revoked: make(map[string]struct{}, len(l.RevokedCertificateEntries)), sigOK: map[[32]byte]bool{}}
		for _, r := range l.RevokedCertificateEntries {
			if r.SerialNumber != nil {
				e.revoked[string(r.SerialNumber.Bytes())] = struct{}{}
			}
		}
		out = append(out, e)
	}
	return out, nil
}

func (s *CRLSet) flatten() {
	var all []*crlEntry
	for _, f := range s.files {
		all = append(all, f.crls...)
	}
	s.loaded = all
}

// Reload re-reads the files whose size or modification time changed.
func (s *CRLSet) Reload() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reloadLocked(time.Now())
}

func (s *CRLSet) reloadLocked(now time.Time) {
	s.lastCheck = now
	changed := false
	for i := range s.files {
		f := &s.files[i]
		st, err := os.Stat(f.path)
		if err != nil {
			s.log.Warn("CRL file unreadable, keeping previous contents", "path", f.path, "err", err)
			continue
		}
		if st.Size() == f.size && st.ModTime().Equal(f.modTime) {
			continue
		}
		next := crlFile{path: f.path}
		if err := next.load(); err != nil {
			s.log.Error("CRL reload failed, keeping previous contents", "path", f.path, "err", err)
			// Remember the stat so a broken file is not re-parsed on every check.
			f.size, f.modTime = st.Size(), st.ModTime()
			continue
		}
		*f = next
		changed = true
		s.log.Info("CRL reloaded", "path", f.path, "crls", len(f.crls))
		s.warnIfNotCurrent(*f, now)
	}
	if changed {
		s.flatten()
	}
}

func (s *CRLSet) snapshot(now time.Time) []*crlEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	interval := s.CheckInterval
	if interval <= 0 {
		interval = time.Second
	}
	if now.Sub(s.lastCheck) >= interval || now.Before(s.lastCheck) {
		s.reloadLocked(now)
	}
	return s.loaded
}

// Revoked reports whether a current CRL, signed by the issuer that chain
// names for it, lists the leaf or an intermediate of chain (a verified chain,
// leaf first, ending at the trust anchor).
func (s *CRLSet) Revoked(chain []*x509.Certificate, now time.Time) bool {
	if s == nil || len(chain) < 2 {
		return false
	}
	crls := s.snapshot(now)
	for i := 0; i+1 < len(chain); i++ {
		c, issuer := chain[i], chain[i+1]
		for _, e := range crls {
			if e.covers(c, issuer, now) {
				if _, ok := e.revoked[string(c.SerialNumber.Bytes())]; ok {
					return true
				}
			}
		}
	}
	return false
}

func (e *crlEntry) covers(c, issuer *x509.Certificate, now time.Time) bool {
	l := e.list
	if !bytes.Equal(l.RawIssuer, c.RawIssuer) {
		return false
	}
	if now.Before(l.ThisUpdate) || l.NextUpdate.IsZero() || !now.Before(l.NextUpdate) {
		return false
	}
	key := sha256.Sum256(issuer.Raw)
	e.mu.Lock()
	ok, seen := e.sigOK[key]
	e.mu.Unlock()
	if !seen {
		ok = l.CheckSignatureFrom(issuer) == nil
		e.mu.Lock()
		e.sigOK[key] = ok
		e.mu.Unlock()
	}
	return ok
}
