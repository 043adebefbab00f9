package stores

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"

	"github.com/certsight/certsight/internal/fsafe"
)

// ReaderConfig is what every store reader is built from, so that the four
// readers take their options the same way and report item errors the same
// way. A reader keeps it unexported; its package re-exports the options it
// honours (WithRoot, Recursive) with what they mean for that store.
type ReaderConfig struct {
	// Kind is the reader's store kind: it tags the log and every ItemError.
	Kind Kind
	// Log is never nil; every record carries store=Kind.
	Log *slog.Logger
	// Root is where the file system of Defaults (and of pemfile's paths) is
	// mounted; "" is this machine's own.
	Root string
	// Recursive makes Read descend into the subdirectories of a directory
	// source (pemfile honours it; the other stores keep a flat folder).
	Recursive bool
}

// Option sets one field of a ReaderConfig.
type Option func(*ReaderConfig)

// WithRoot sets ReaderConfig.Root.
func WithRoot(dir string) Option { return func(c *ReaderConfig) { c.Root = dir } }

// Recursive sets ReaderConfig.Recursive.
func Recursive() Option { return func(c *ReaderConfig) { c.Recursive = true } }

// NewReaderConfig returns the configuration of a reader of kind that logs to
// logger (nil discards), with opts applied in order.
func NewReaderConfig(kind Kind, logger *slog.Logger, opts ...Option) ReaderConfig {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := ReaderConfig{Kind: kind, Log: logger.With("store", string(kind))}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// ItemError returns the error for one failed item of a read (item "" for the
// whole path), logged at debug level: the caller hands it to its consumer,
// which decides whether it is worth more.
func (c ReaderConfig) ItemError(path, item string, err error) error {
	c.Log.Debug("store item failed", "path", path, "item", item, "err", err)
	return &ItemError{Store: c.Kind, Path: path, Item: item, Err: err}
}

// ReadPath reads a source that names one file or a folder of files, the way
// the file-based readers do: file is called with the path itself (entry
// nil: the caller named it, so a file of another format is an error) or
// with each entry of the folder, not descending, in name order (the reader
// passes over what is not its format quietly), until it returns false. A
// path that cannot be examined or listed, and the end of ctx, are yielded as
// ItemErrors. Paths are resolved under Root.
func (c ReaderConfig) ReadPath(ctx context.Context, path string, yield func(Entry, error) bool, file func(path string, entry fs.DirEntry) bool) {
	fail := func(err error) { yield(Entry{}, c.ItemError(path, "", err)) }
	if err := ctx.Err(); err != nil {
		fail(err)
		return
	}
	fsys := fsafe.In(c.Root)
	fi, err := fsys.Stat(path)
	if err != nil {
		fail(err)
		return
	}
	if !fi.IsDir() {
		file(path, nil)
		return
	}
	ents, err := fsys.ReadDir(ctx, path)
	if err != nil {
		fail(fmt.Errorf("listing directory: %w", err))
		return
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			fail(err)
			return
		}
		if !file(filepath.Join(path, e.Name()), e) {
			return
		}
	}
}
