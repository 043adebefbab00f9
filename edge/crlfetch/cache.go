package crlfetch

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// A cache entry is two files named after the SHA-256 of the distribution
// point's URL: NAME.crl, the DER of the CRL last accepted from it (readable
// with openssl crl -inform DER), and NAME.json, a record of where it came
// from. The record is written after the CRL, so a crash between the two
// renames leaves a record whose crl_sha256 does not match: its validators
// are then not used, and the CRL still goes through the acceptance rules.
type record struct {
	URLs []string `json:"urls"`
	// Issuers are the DER certificates of the CAs whose certificates name
	// the distribution point: the CRL must be signed by one of them, and
	// each must chain to a trust anchor when the cache is loaded.
	Issuers   [][]byte `json:"issuers"`
	CRLSHA256 string   `json:"crl_sha256"`
	validators
}

// maxRecordBytes caps a record file: a few URLs and issuer certificates.
const maxRecordBytes = 1 << 20

func entryName(url string) string {
	sum := sha256.Sum256([]byte(url))
	return hex.EncodeToString(sum[:16])
}

// parseRecord reads a record strictly (unknown keys are errors) and checks
// that it belongs under name.
func parseRecord(data []byte, name string) (*record, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r record
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decoding record: %w", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after record")
	}
	if len(r.URLs) == 0 {
		return nil, errors.New("record names no URL")
	}
	for _, u := range r.URLs {
		if _, err := checkURL(u); err != nil {
			return nil, err
		}
	}
	if entryName(r.URLs[0]) != name {
		return nil, fmt.Errorf("record for %s is stored under another URL's name", r.URLs[0])
	}
	if len(r.Issuers) == 0 {
		return nil, errors.New("record names no issuer")
	}
	return &r, nil
}

// LoadCache reads the cache directory (creating it, mode 0700, when
// missing): every entry whose issuers chain to a trust anchor becomes a
// followed distribution point, and its CRL is offered to the store under
// the usual rules. A refused entry is logged and fetched again; only an
// unusable directory is an error.
func (f *Fetcher) LoadCache() error {
	dir := f.o.CacheDir
	if dir == "" || f.o.Mode == ModeOff {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("--crl-cache: %w", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("--crl-cache: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("--crl-cache %s: not a directory", dir)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o022 != 0 {
		// No CRL in it is believed without its signature, but whoever can
		// write here can delete evidence, fill the disk, or name URLs for
		// the edge to fetch.
		return fmt.Errorf("--crl-cache %s is writable by group or others (mode %s): make it 0700", dir, st.Mode().Perm())
	}
	// Temporary files of writes a crash interrupted: nothing else writes
	// here while the edge starts.
	if tmps, err := filepath.Glob(filepath.Join(dir, ".*.tmp")); err == nil {
		for _, p := range tmps {
			os.Remove(p)
		}
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return fmt.Errorf("--crl-cache: %w", err)
	}
	type entry struct {
		path string
		rec  *record
	}
	var entries []entry
	pool := x509.NewCertPool()
	if f.o.Intermediates != nil {
		pool = f.o.Intermediates.Clone()
	}
	for _, p := range names {
		data, err := readCapped(p, maxRecordBytes)
		if err == nil {
			var r *record
			if r, err = parseRecord(data, strings.TrimSuffix(filepath.Base(p), ".json")); err == nil {
				entries = append(entries, entry{p, r})
				for _, der := range r.Issuers {
					if c, err := x509.ParseCertificate(der); err == nil {
						pool.AddCert(c) // a chain may run through another entry's issuer
					}
				}
				continue
			}
		}
		f.log.Warn("CRL cache entry refused", "path", p, "reason", err.Error())
	}
	loaded := 0
	for _, e := range entries {
		crlPath := strings.TrimSuffix(e.path, ".json") + ".crl"
		crl, err := readCapped(crlPath, f.o.MaxBytes)
		if err == nil {
			err = f.loadEntry(e.rec, crl, pool)
		}
		if err != nil {
			f.log.Warn("CRL cache entry refused; its distribution point is fetched again", "path", crlPath, "reason", err.Error())
			continue
		}
		loaded++
	}
	f.log.Info("CRL cache loaded", "dir", dir, "entries", len(names), "accepted", loaded)
	return nil
}

// loadEntry follows a cached distribution point and offers its CRL.
func (f *Fetcher) loadEntry(r *record, crl []byte, pool *x509.CertPool) error {
	var issuers []*x509.Certificate
	var why error
	for _, der := range r.Issuers {
		c, err := x509.ParseCertificate(der)
		if err == nil {
			err = f.chainsToAnchor(c, pool)
		}
		if err != nil {
			why = err
			continue
		}
		issuers = append(issuers, c)
	}
	if len(issuers) == 0 {
		return fmt.Errorf("no issuer certificate chains to a trust anchor: %w", why)
	}
	for _, c := range issuers {
		f.store.Learn(c)
	}
	f.mu.Lock()
	j := f.jobs[r.URLs[0]]
	switch {
	case j != nil:
		for _, c := range issuers {
			j.issuers[issuerKey(c)] = c
		}
	case len(f.jobs) >= f.o.MaxURLs:
		f.mu.Unlock()
		return fmt.Errorf("distribution point limit (%d) reached", f.o.MaxURLs)
	default:
		j = f.addJob(r.URLs, issuers...)
	}
	f.mu.Unlock()
	for _, c := range issuers {
		f.store.Cover(c)
	}
	l, err := f.accept(j, crl, r.URLs[0]+" (cache)")
	if err != nil {
		return err
	}
	j.hash = sha256.Sum256(l.Raw)
	j.next, j.cached = l.NextUpdate, j.hash
	if hex.EncodeToString(j.hash[:]) == r.CRLSHA256 {
		j.val, j.cachedVal = r.validators, r.validators
	}
	if now := time.Now(); now.Before(l.NextUpdate) {
		j.delay = refreshDelay(now, l.NextUpdate, f.o.RefreshMax)
	}
	if j.firstDone.CompareAndSwap(false, true) {
		close(j.first)
	}
	return nil
}

// chainsToAnchor checks that a cached issuer certificate is a CA the edge
// trusts now: a trust anchor, or a CA chaining to one.
func (f *Fetcher) chainsToAnchor(c *x509.Certificate, pool *x509.CertPool) error {
	if !c.IsCA {
		return fmt.Errorf("%s is not a CA", c.Subject)
	}
	if f.o.Roots == nil {
		return errors.New("no trust anchors")
	}
	_, err := c.Verify(x509.VerifyOptions{Roots: f.o.Roots, Intermediates: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return fmt.Errorf("%s: %w", c.Subject, err)
	}
	return nil
}

// save writes j's CRL and record to the cache when either changed.
func (f *Fetcher) save(j *job, der []byte) {
	if f.o.CacheDir == "" {
		return
	}
	hash := sha256.Sum256(der)
	if hash == j.cached && j.val == j.cachedVal {
		return // a 200 with the CRL and validators already on disk
	}
	name := entryName(j.urls[0])
	r := record{URLs: j.urls, CRLSHA256: hex.EncodeToString(hash[:]), validators: j.val}
	for _, c := range f.issuers(j) {
		r.Issuers = append(r.Issuers, c.Raw)
	}
	meta, err := json.MarshalIndent(r, "", "  ")
	if err == nil && hash != j.cached {
		err = writeAtomic(f.o.CacheDir, name+".crl", der)
	}
	if err == nil {
		err = writeAtomic(f.o.CacheDir, name+".json", meta)
	}
	if err != nil {
		f.log.Warn("CRL cache write failed; a restart starts without this CRL", "url", j.urls[0], "err", err.Error())
		return
	}
	j.cached, j.cachedVal = hash, j.val
}

// writeAtomic replaces dir/name with data so that a reader (or a crash)
// sees the old file or the new one, never a mix: a private temporary file
// (mode 0600) in the same directory, synced, then renamed over.
func writeAtomic(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	done = true
	if d, err := os.Open(dir); err == nil { // make the rename durable (not possible on Windows)
		d.Sync()
		d.Close()
	}
	return nil
}

// readCapped reads a regular file of at most max bytes.
func readCapped(path string, max int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(fh, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: over the %d-byte limit", path, max)
	}
	return data, nil
}
