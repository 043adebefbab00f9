package posture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/certsight/certsight/internal/fsafe"
)

// MaxConfigSize bounds the config file; a bigger one is reported, not read.
const MaxConfigSize = 16 << 20

// DefaultConfigPath is the platform's usual place for the posture config.
func DefaultConfigPath() string {
	switch runtime.GOOS {
	case "darwin":
		return "/Library/Application Support/certsight/posture.json"
	case "windows":
		dir := os.Getenv("ProgramData")
		if dir == "" {
			dir = `C:\ProgramData`
		}
		return filepath.Join(dir, "certsight", "posture.json")
	}
	return "/etc/certsight/posture.json"
}

// Snapshot is the config as it was at one read.
type Snapshot struct {
	Path string
	// Missing is true when the file does not exist: no rules, no CAs.
	Missing bool
	// Err is set when the file could not be read or decoded at all; then
	// Policy is empty.
	Err error
	// Policy holds the validated config; rules with problems carry them.
	Policy Policy
}

// Source reads the config file and re-reads it whenever its content
// changes. Every Load reads the file (a config is small) and decodes it
// again only when the bytes differ from the last read, so an edit takes
// effect at the next query, and a broken edit is reported, not hidden
// behind the last good version.
type Source struct {
	path string
	goos string

	mu   sync.Mutex
	last []byte
	snap *Snapshot
}

// NewSource watches the config at path ("" = DefaultConfigPath()).
func NewSource(path string) *Source {
	if path == "" {
		path = DefaultConfigPath()
	}
	return &Source{path: path, goos: runtime.GOOS}
}

// Path is the config file's path.
func (s *Source) Path() string { return s.path }

// Load returns the current config.
func (s *Source) Load() *Snapshot {
	data, err := readLimited(s.path)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case errors.Is(err, os.ErrNotExist):
		s.last, s.snap = nil, &Snapshot{Path: s.path, Missing: true}
		return s.snap
	case err != nil:
		s.last, s.snap = nil, &Snapshot{Path: s.path, Err: err}
		return s.snap
	}
	if s.snap != nil && s.last != nil && bytes.Equal(data, s.last) {
		return s.snap
	}
	s.last, s.snap = data, Parse(s.path, data, s.goos)
	return s.snap
}

// Parse decodes and validates config bytes read from path.
func Parse(path string, data []byte, goos string) *Snapshot {
	snap := &Snapshot{Path: path}
	cfg, err := Decode(data)
	if err != nil {
		snap.Err = err
		return snap
	}
	snap.Policy = Validate(cfg, goos)
	return snap
}

// readLimited reads a config or CA file through fsafe: a FIFO, device or
// pseudo-file is refused instead of blocking, and the size is capped.
func readLimited(path string) ([]byte, error) {
	data, err := fsafe.FS{}.ReadFile(context.Background(), path, MaxConfigSize)
	if err != nil {
		if errors.Is(err, fsafe.ErrTooLarge) {
			return nil, fmt.Errorf("%s is larger than %d bytes", path, MaxConfigSize)
		}
		return nil, err
	}
	return data, nil
}

// Evaluate evaluates the snapshot's rules. It always returns at least one
// result, so a query never comes back empty without saying why:
//   - a missing file gives one not-evaluated row "no posture config at PATH";
//   - a file that cannot be read or decoded gives one failed row with rule ""
//     and reason "config PATH: …" naming every problem;
//   - a config without rules gives one not-evaluated row saying so.
//
// A rule with problems of its own fails with them; the other rules are
// evaluated normally.
func (s *Snapshot) Evaluate(ctx context.Context, env Env) []Result {
	switch {
	case s.Missing:
		return []Result{{Reason: fmt.Sprintf("not evaluated: no posture config at %s (set --config or CERTSIGHT_CONFIG)", s.Path)}}
	case s.Err != nil:
		return []Result{{Evaluated: true, Reason: fmt.Sprintf("config %s: %v", s.Path, s.Err)}}
	case len(s.Policy.Checks) == 0:
		return []Result{{Reason: fmt.Sprintf("not evaluated: the posture config %s has no rules", s.Path)}}
	}
	return s.Policy.Evaluate(ctx, env)
}
