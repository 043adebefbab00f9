package tables

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/osquery/osquery-go/plugin/table"

	"github.com/certsight/certsight/stores"
)

// DefaultTimeout bounds one generate call when Deps.Timeout is zero. osquery
// waits for the answer, so a store that hangs must not hang the query.
const DefaultTimeout = 60 * time.Second

// Table is one table, independent of who queries it: the osquery plugin
// (Plugin) and the standalone SQLite virtual table (package tables/sqlite) are
// both built from it, so push-down and rows are the same in both modes.
type Table struct {
	Name        string
	Description string
	Notes       string
	Examples    []string
	// Columns in order, with type, description and options (IndexColumn,
	// RequiredColumn, AdditionalColumn, OptimizedColumn, HiddenColumn).
	// Constraints reach Generate only for columns with one of the first three
	// options, in osquery and in standalone mode alike.
	Columns []table.ColumnDefinition
	// Generate returns the rows; values are strings, a missing key is NULL.
	// It returns an error only when the query as a whole means nothing; a
	// per-item failure is logged and the other rows are still returned.
	Generate table.GenerateFunc
	// Stream, when set, hands the same rows as Generate to emit one at a
	// time, so that the standalone shell never holds them all; it stops
	// when emit fails and returns emit's error. Errors are as for Generate.
	Stream StreamFunc
	// Timeout bounds each Generate call (DefaultTimeout when zero).
	Timeout time.Duration
}

// StreamFunc produces a table's rows one at a time (see Table.Stream).
type StreamFunc func(ctx context.Context, qc table.QueryContext, emit func(map[string]string) error) error

// deadline applies the table's timeout to ctx and fills the constraints a
// query without any leaves nil.
func (t Table) deadline(ctx context.Context, qc *table.QueryContext) (context.Context, context.CancelFunc) {
	d := t.Timeout
	if d <= 0 {
		d = DefaultTimeout
	}
	if qc.Constraints == nil {
		qc.Constraints = map[string]table.ConstraintList{}
	}
	return context.WithTimeout(ctx, d)
}

// Rows runs Generate under the table's deadline. Both adapters call it.
func (t Table) Rows(ctx context.Context, qc table.QueryContext) ([]map[string]string, error) {
	ctx, cancel := t.deadline(ctx, &qc)
	defer cancel()
	rows, err := t.Generate(ctx, qc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Name, err)
	}
	return rows, nil
}

// Each hands the rows to emit one at a time under the table's deadline:
// through Stream when the table has one, else from Generate's answer. It
// stops when emit fails and returns emit's
// error unwrapped.
func (t Table) Each(ctx context.Context, qc table.QueryContext, emit func(map[string]string) error) error {
	ctx, cancel := t.deadline(ctx, &qc)
	defer cancel()
	if t.Stream != nil {
		var emitErr error
		err := t.Stream(ctx, qc, func(row map[string]string) error {
			emitErr = emit(row)
			return emitErr
		})
		switch {
		case err == nil:
			return nil
		case emitErr != nil && errors.Is(err, emitErr):
			return emitErr
		}
		return fmt.Errorf("%s: %w", t.Name, err)
	}
	rows, err := t.Generate(ctx, qc)
	if err != nil {
		return fmt.Errorf("%s: %w", t.Name, err)
	}
	for _, row := range rows { // not cleared: Generate may hand out rows it keeps
		if err := emit(row); err != nil {
			return err
		}
	}
	return nil
}

// Plugin returns the osquery table plugin for t; Plugin().Spec() documents it.
func (t Table) Plugin() *table.Plugin {
	opts := []table.TableOpt{table.WithDescription(t.Description)}
	if t.Notes != "" {
		opts = append(opts, table.WithNotes(t.Notes))
	}
	for _, e := range t.Examples {
		opts = append(opts, table.WithExample(e))
	}
	opts = append(opts, table.WithPlatforms(table.LinuxPlatform, table.DarwinPlatform, table.WindowsPlatform))
	return table.NewPlugin(t.Name, t.Columns, t.Rows, opts...)
}

// Pushed reports whether constraints on column c are handed to Generate.
func Pushed(c table.ColumnDefinition) bool { return c.Index || c.Required || c.Additional }

// Scanner reads certificate stores; *scan.Scanner satisfies it.
type Scanner interface {
	// Paths reads each path (file, directory, NSS database directory,
	// keychain, glob) by content, restricted to kinds when given.
	Paths(ctx context.Context, paths []string, kinds ...stores.Kind) stores.Result
	// Defaults reads the platform's default stores, restricted to kinds.
	Defaults(ctx context.Context, kinds ...stores.Kind) stores.Result
	// DefaultsAt reads the default stores of one location.
	DefaultsAt(ctx context.Context, loc stores.Location, kinds ...stores.Kind) stores.Result
}

// EachScanner is a Scanner that also hands over entries one at a time
// (*scan.Scanner is one): client_certificates then turns each into a row and
// drops it, instead of holding every parsed certificate of a scan. The
// methods read like Paths and Defaults; when fn fails, reading stops and
// fn's error is the last one returned.
type EachScanner interface {
	Scanner
	PathsEach(ctx context.Context, paths []string, fn func(stores.Entry) error, kinds ...stores.Kind) []error
	DefaultsEach(ctx context.Context, fn func(stores.Entry) error, kinds ...stores.Kind) []error
}

// Deps is what the tables need from the program that serves them.
type Deps struct {
	Scanner Scanner
	// Logger receives per-item read errors; nil discards them.
	Logger *slog.Logger
	// ConfigPath names the posture config file ("" = the platform default).
	ConfigPath string
	// Timeout bounds each generate call (DefaultTimeout when zero).
	Timeout time.Duration
}

func (d Deps) logger(name string) *slog.Logger {
	l := d.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return l.With("table", name)
}

// logErrors logs every per-item error of a read, so a bad file never fails
// the query and never goes unseen.
func logErrors(ctx context.Context, log *slog.Logger, errs []error) {
	for _, err := range errs {
		log.WarnContext(ctx, "skipped unreadable item", "err", err)
	}
}
