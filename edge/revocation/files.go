package revocation

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/certsight/certsight/edge/internal/filestamp"
	"github.com/certsight/certsight/internal/tick"
)

// Files feeds CRL files (PEM with one or more "X509 CRL" blocks, or one DER
// CRL each) into a Store: strictly at start (Load), then on every Poll. A
// file is read again when its size or modification time changed, and on
// every poll after a failed read or a refused CRL until it loads — a fixed
// permission, or an issuer learnt since, needs no touch of the file. A file
// renamed over the old one counts as changed even with the same size and
// time.
type Files struct {
	store *Store
	log   *slog.Logger

	mu    sync.Mutex
	files []fileState
}

type fileState struct {
	path    string
	stamp   filestamp.Stamp // of the version last read
	ok      bool            // the last read loaded every CRL in the file
	lastErr string          // the last failure, logged once until it changes
}

// NewFiles returns a feeder for paths; logger receives the ERROR records of
// failed reloads (nil discards).
func NewFiles(store *Store, paths []string, logger *slog.Logger) *Files {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := &Files{store: store, log: logger}
	for _, p := range paths {
		f.files = append(f.files, fileState{path: p})
	}
	return f
}

// Load reads every file once; any unreadable file, unparsable CRL, or CRL
// the store refuses (no matching issuer, bad signature, …) is an error,
// naming the file.
func (f *Files) Load() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.files {
		if _, err := f.load(&f.files[i]); err != nil {
			return fmt.Errorf("CRL %s: %w", f.files[i].path, err)
		}
	}
	f.store.Tick(f.store.now())
	return nil
}

// load reads one file and offers its CRLs, and reports whether the store
// changed.
func (f *Files) load(fs *fileState) (bool, error) {
	// Stamped before reading: a write during the read shows next poll.
	stamp, err := filestamp.Of(fs.path)
	if err != nil {
		return false, err
	}
	data, err := os.ReadFile(fs.path)
	if err != nil {
		return false, err
	}
	ders, err := SplitCRLs(data)
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrParse, err)
	}
	var errs []error
	changed := false
	for i, der := range ders {
		ok, err := f.store.Offer(der, fs.path)
		if err != nil {
			if len(ders) > 1 {
				err = fmt.Errorf("CRL %d of %d: %w", i+1, len(ders), err)
			}
			errs = append(errs, err)
		}
		changed = changed || ok
	}
	fs.stamp = stamp
	return changed, errors.Join(errs...)
}

// Poll re-reads changed and previously failed files, logging an ERROR
// (once per distinct failure) that names the file and the reason; the
// store keeps the last good CRL. Then it runs the store's Tick.
func (f *Files) Poll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.files {
		fs := &f.files[i]
		if fs.ok {
			if cur, err := filestamp.Of(fs.path); err == nil && cur.Same(fs.stamp) {
				continue
			}
		}
		changed, err := f.load(fs)
		fs.ok = err == nil
		if changed {
			f.log.Info("CRL reloaded", "path", fs.path)
		}
		if err == nil {
			if fs.lastErr != "" {
				f.log.Info("CRL file loads again", "path", fs.path)
			}
			fs.lastErr = ""
			continue
		}
		if msg := err.Error(); msg != fs.lastErr {
			fs.lastErr = msg
			f.log.Error("CRL reload failed, keeping the last good CRL", "path", fs.path, "reason", msg)
		}
	}
	f.store.Tick(f.store.now())
}

// Run polls every interval until ctx ends.
func (f *Files) Run(ctx context.Context, interval time.Duration) {
	tick.Every(ctx, interval, func(time.Time) { f.Poll() })
}

// SplitCRLs returns the DER CRLs of a file: every "X509 CRL" block of PEM
// input (at least one), or the whole input as DER.
func SplitCRLs(data []byte) ([][]byte, error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		if len(data) == 0 {
			return nil, errors.New("empty file")
		}
		return [][]byte{data}, nil
	}
	var ders [][]byte
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
	return ders, nil
}
