package tables

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"time"

	"github.com/osquery/osquery-go/plugin/table"

	"github.com/certsight/certsight/posture"
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
	// Generate hands over the rows one at a time; values are strings, a
	// missing key is NULL. It yields an error (and stops) only when the
	// query as a whole means nothing; a per-item failure is logged and the
	// other rows are still yielded. Rows collects them for osquery; Stream
	// hands them on one at a time (the standalone shell never holds them all).
	Generate GenerateFunc
	// Timeout bounds each Generate call (DefaultTimeout when zero).
	Timeout time.Duration
}

// Rows is how a table hands over its rows: one row with a nil error at a
// time, or one final error.
type Rows = iter.Seq2[map[string]string, error]

// GenerateFunc produces a table's rows (see Table.Generate).
type GenerateFunc func(ctx context.Context, qc table.QueryContext) Rows

// RowSlice is the Rows of a table that builds all its rows at once.
func RowSlice(rows []map[string]string, err error) Rows {
	return func(yield func(map[string]string, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
		if err != nil {
			yield(nil, err)
		}
	}
}

// Collected is the GenerateFunc of a table that builds all its rows at once.
func Collected(gen func(ctx context.Context, qc table.QueryContext) ([]map[string]string, error)) GenerateFunc {
	return func(ctx context.Context, qc table.QueryContext) Rows { return RowSlice(gen(ctx, qc)) }
}

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

// Stream hands over the rows of Generate under the table's deadline. A
// query that runs out of time ends with an error, never with a silent,
// partial answer.
func (t Table) Stream(ctx context.Context, qc table.QueryContext) Rows {
	return func(yield func(map[string]string, error) bool) {
		ctx, cancel := t.deadline(ctx, &qc)
		defer cancel()
		for row, err := range t.Generate(ctx, qc) {
			if err != nil {
				yield(nil, fmt.Errorf("%s: %w", t.Name, err))
				return
			}
			if !yield(row, nil) {
				return
			}
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			yield(nil, fmt.Errorf("%s: %w: the query ran out of time (%s); rows may be missing", t.Name, ctx.Err(), t.timeout()))
		}
	}
}

func (t Table) timeout() time.Duration {
	if t.Timeout <= 0 {
		return DefaultTimeout
	}
	return t.Timeout
}

// Rows collects Stream's rows; the osquery plugin calls it.
func (t Table) Rows(ctx context.Context, qc table.QueryContext) ([]map[string]string, error) {
	var rows []map[string]string
	for row, err := range t.Stream(ctx, qc) {
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
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
	Paths(ctx context.Context, paths []string, kinds ...stores.Kind) stores.Seq
	// Defaults reads the platform's default stores, restricted to kinds.
	Defaults(ctx context.Context, kinds ...stores.Kind) stores.Seq
	// DefaultsAt reads the default stores of one location.
	DefaultsAt(ctx context.Context, loc stores.Location, kinds ...stores.Kind) stores.Seq
}

// Deps is what the tables need from the program that serves them.
type Deps struct {
	Scanner Scanner
	// Logger receives per-item read errors; nil discards them.
	Logger *slog.Logger
	// ConfigPath names the posture config file ("" = the platform default).
	ConfigPath string
	// Timeout bounds each generate call (DefaultTimeout when zero).
	// Identity answers ${hostname} and ${serial_number} for cert_posture
	// (nil: this machine, identity.System()).
	Identity posture.Identity
	Timeout  time.Duration
}

func (d Deps) logger(name string) *slog.Logger {
	l := d.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return l.With("table", name)
}
