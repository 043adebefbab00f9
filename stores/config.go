package stores

import (
	"log/slog"
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
