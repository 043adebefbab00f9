package reload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rig is a watcher over two files whose Load reads them and fails, naming
// the file, when one says "bad".
type rig struct {
	dir     string
	a, b    string
	w       *Watcher
	mu      sync.Mutex
	loads   int
	results []bool
	logs    bytes.Buffer
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{dir: t.TempDir()}
	r.a, r.b = filepath.Join(r.dir, "a.pem"), filepath.Join(r.dir, "b.json")
	r.write(t, r.a, "a1")
	r.write(t, r.b, "b1")
	r.w = New(Options{Files: []string{r.a, "", r.b}, Logger: slog.New(slog.NewJSONHandler(&r.logs, nil)),
		Load: func() ([]slog.Attr, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.loads++
			for _, p := range []string{r.a, r.b} {
				data, err := os.ReadFile(p)
				if err != nil {
					return nil, &FileError{Path: p, Err: err}
				}
				if string(data) == "bad" {
					return nil, &FileError{Path: p, Err: errors.New("not a configuration")}
				}
			}
			return []slog.Attr{slog.Int("load", r.loads)}, nil
		},
		OnResult: func(ok bool) { r.results = append(r.results, ok) }})
	return r
}

// write replaces path through a rename, as configuration tools do.
func (r *rig) write(t *testing.T, path, data string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path+".tmp", []byte(data), 0o600))
	require.NoError(t, os.Rename(path+".tmp", path))
}

type record struct {
	Level, Msg, Trigger, File, Reason string
}

func (r *rig) records(t *testing.T) []record {
	t.Helper()
	var out []record
	dec := json.NewDecoder(bytes.NewReader(r.logs.Bytes()))
	for dec.More() {
		var m map[string]any
		require.NoError(t, dec.Decode(&m))
		s := func(k string) string { v, _ := m[k].(string); return v }
		out = append(out, record{s("level"), s("msg"), s("trigger"), s("file"), s("reason")})
	}
	return out
}

func TestPollReloadsChangedFilesAndLogsFailuresOnce(t *testing.T) {
	r := newRig(t)
	steps := []struct {
		name   string
		change func(t *testing.T)
		loads  int    // total Load calls after the poll
		level  string // the new log record's level, "" for none
		file   string
	}{
		{"nothing changed", func(*testing.T) {}, 0, "", ""},
		{"a file changed", func(t *testing.T) { r.write(t, r.b, "b2") }, 1, "INFO", ""},
		{"unchanged again", func(*testing.T) {}, 1, "", ""},
		{"a bad file", func(t *testing.T) { r.write(t, r.a, "bad") }, 2, "ERROR", r.a},
		{"the same bad file is not retried", func(*testing.T) {}, 2, "", ""},
		{"a vanished file is retried every poll", func(t *testing.T) { require.NoError(t, os.Remove(r.a)) }, 3, "ERROR", r.a},
		{"…but logged once", func(*testing.T) {}, 4, "", ""},
		{"fixed", func(t *testing.T) { r.write(t, r.a, "a2") }, 5, "INFO", ""},
	}
	seen := 0
	for _, st := range steps {
		st.change(t)
		r.w.Poll()
		assert.Equal(t, st.loads, r.loads, st.name)
		recs := r.records(t)
		if st.level == "" {
			assert.Len(t, recs, seen, st.name)
			continue
		}
		require.Len(t, recs, seen+1, st.name)
		rec := recs[seen]
		seen++
		assert.Equal(t, st.level, rec.Level, st.name)
		assert.Equal(t, "file changed", rec.Trigger, st.name)
		assert.Equal(t, st.file, rec.File, st.name)
		if st.level == "ERROR" {
			assert.Equal(t, "reload refused, keeping the running configuration", rec.Msg)
			assert.NotEmpty(t, rec.Reason)
		}
	}
	assert.Equal(t, []bool{true, false, false, false, true}, r.results)
}

func TestSignalReloadsEvenWhenNothingChanged(t *testing.T) {
	r := newRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sig := make(chan os.Signal)
	done := make(chan struct{})
	go func() { r.w.Run(ctx, sig, 0); close(done) }()
	sig <- syscall.SIGHUP
	require.Eventually(t, func() bool { // Run took the signal; now let its load finish
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.loads == 1
	}, 5*time.Second, time.Millisecond)
	r.w.mu.Lock() // the first reload has logged once the watcher is free
	r.w.mu.Unlock()
	r.write(t, r.b, "bad")
	sig <- syscall.SIGHUP
	sig <- syscall.SIGHUP // a refused signal reload is logged every time: someone asked
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	recs := r.records(t)
	require.Len(t, recs, 3)
	assert.Equal(t, "INFO", recs[0].Level)
	assert.Equal(t, "signal hangup", recs[0].Trigger)
	for _, rec := range recs[1:] {
		assert.Equal(t, "ERROR", rec.Level)
		assert.Equal(t, r.b, rec.File)
		assert.Equal(t, "not a configuration", rec.Reason)
	}
}

func TestRunPolls(t *testing.T) {
	r := newRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.w.Run(ctx, nil, 10*time.Millisecond)
	r.write(t, r.a, "a2")
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.loads == 1
	}, 5*time.Second, 5*time.Millisecond)
}
