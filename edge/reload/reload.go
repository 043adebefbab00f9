// Package reload decides when the edge reloads its configuration — on a
// signal (SIGHUP), or when a watched file changed, polled — and reports
// each outcome: an INFO line for a reload, an ERROR line naming the file
// and the reason for a refused one. What a reload does is the caller's Load,
// which must check the whole new configuration before swapping it in and
// leave the running one untouched on any error.
package reload

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/certsight/certsight/edge/internal/filestamp"
	"github.com/certsight/certsight/internal/tick"
)

// FileError is a configuration refused because of one file.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// Options configure a Watcher.
type Options struct {
	// Files are watched for change (empty names are skipped).
	Files []string
	// Load reads, checks and swaps in the configuration; it returns
	// attributes describing what is now in force, for the log line, or an
	// error (a *FileError names the file) having changed nothing.
	Load func() ([]slog.Attr, error)
	// Logger gets one line per reload; nil discards.
	Logger *slog.Logger
	// OnResult hears every reload's outcome, for metrics.
	OnResult func(ok bool)
}

// Watcher runs Load on a signal and when a watched file changed. It is
// safe for concurrent use; reloads never overlap.
type Watcher struct {
	o   Options
	log *slog.Logger

	mu      sync.Mutex
	files   []string
	stamps  []filestamp.Stamp // as they were before the last attempt
	lastErr string            // the last polled failure, logged once
}

// New returns a watcher and stamps the files as they are now: create it
// before reading them for the first time, so a change made during that
// read is noticed.
func New(o Options) *Watcher {
	w := &Watcher{o: o, log: o.Logger}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	for _, f := range o.Files {
		if f != "" {
			w.files = append(w.files, f)
		}
	}
	w.stamps = w.stampAll()
	return w
}

func (w *Watcher) stampAll() []filestamp.Stamp {
	out := make([]filestamp.Stamp, len(w.files))
	for i, f := range w.files {
		out[i], _ = filestamp.Of(f) // a missing file stamps as zero: changed until it is back
	}
	return out
}

// Reload runs Load now, whatever the files look like (a signal asked for
// it), and logs the outcome.
func (w *Watcher) Reload(trigger string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stamps = w.stampAll()
	err := w.load(trigger)
	w.lastErr = ""
	if err != nil {
		w.lastErr = err.Error()
	}
	return err
}

// Poll runs Load when a watched file changed since the last attempt (or
// the last attempt failed with a file that still cannot be stamped); a
// failure is logged once until it changes.
func (w *Watcher) Poll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	cur := w.stampAll()
	changed := false
	for i := range cur {
		if !cur[i].Same(w.stamps[i]) {
			changed = true
		}
	}
	if !changed {
		return
	}
	w.stamps = cur
	err := w.loadQuiet("file changed")
	switch {
	case err == nil:
		w.lastErr = ""
	case err.Error() != w.lastErr:
		w.lastErr = err.Error()
		w.logFailure("file changed", err)
	}
}

// Run reloads on every value from signals and polls the files every
// interval (never, when interval is not positive) until ctx ends.
func (w *Watcher) Run(ctx context.Context, signals <-chan os.Signal, interval time.Duration) {
	if interval > 0 {
		go tick.Every(ctx, interval, func(time.Time) { w.Poll() })
	}
	for {
		select {
		case <-ctx.Done():
			return
		case sig := <-signals:
			w.Reload("signal " + sig.String())
		}
	}
}

// load runs Load and logs both outcomes.
func (w *Watcher) load(trigger string) error {
	err := w.loadQuiet(trigger)
	if err != nil {
		w.logFailure(trigger, err)
	}
	return err
}

// loadQuiet runs Load, logs a success and counts the outcome.
func (w *Watcher) loadQuiet(trigger string) error {
	start := time.Now()
	attrs, err := w.o.Load()
	if w.o.OnResult != nil {
		w.o.OnResult(err == nil)
	}
	if err != nil {
		return err
	}
	attrs = append([]slog.Attr{slog.String("trigger", trigger), slog.Duration("took", time.Since(start))}, attrs...)
	w.log.LogAttrs(context.Background(), slog.LevelInfo, "configuration reloaded", attrs...)
	return nil
}

func (w *Watcher) logFailure(trigger string, err error) {
	attrs := []slog.Attr{slog.String("trigger", trigger)}
	var fe *FileError
	if errors.As(err, &fe) {
		attrs = append(attrs, slog.String("file", fe.Path), slog.String("reason", fe.Err.Error()))
	} else {
		attrs = append(attrs, slog.String("reason", err.Error()))
	}
	w.log.LogAttrs(context.Background(), slog.LevelError, "reload refused, keeping the running configuration", attrs...)
}
