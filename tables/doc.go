// Package tables holds certsight's osquery tables as plain values, so that
// one definition serves both modes of certsight.ext:
//
//   - extension mode: Table.Plugin() is an osquery-go table plugin
//     (registration routes, Spec() documentation, generate);
//   - standalone mode: package tables/vtable serves the same Table as an
//     SQLite virtual table, with osquery's push-down semantics.
//
// A Table is a name, a description, notes, examples, columns
// (osquery-go ColumnDefinition: type, description, options) and a Generate
// func that hands over rows one at a time (Rows, an iter.Seq2 of row and
// error), as every store reader and the scanner do (stores.Seq).
// Table.Stream runs Generate under the table's deadline and turns a query
// that ran out of time into an error; the standalone virtual table pulls
// rows through it, so a scan of thousands of certificates never sits in
// memory whole. Table.Rows collects Stream for the osquery plugin. A table
// that builds its rows at once wraps that function in Collected.
//
// # Push-down
//
// Constraints reach Generate only for columns marked IndexColumn,
// RequiredColumn or AdditionalColumn (tables.Pushed), in both modes. They
// arrive as osquery sends them: a table.QueryContext listing every column,
// operators EQUALS (2, also each value of IN), LIKE (65), GLOB (66). SQLite
// re-applies every WHERE term to the rows, so Generate may return more rows
// than asked for, never fewer. Read constraints with the helpers in
// constraints.go (Equals, Patterns, LikeToGlob) so every table treats them
// alike: values de-duplicated, empty ones dropped, LIKE `%`→`*`, `_`→`?`.
// OptimizedColumn makes osquery send all IN values in one call; standalone
// SQLite calls Generate once per value (same rows).
//
// # Errors
//
// A per-item failure (one unreadable file, record, rule) is logged with the
// item through Deps.Logger (log.Warn with "err") and the other rows are
// returned. Generate yields an error only when the query as a whole cannot
// mean anything, or ran out of time; osquery then fails the whole query.
//
// # Adding a table
//
// Write the table in its own file (e.g. tables/cert_posture.go) as a
// constructor from Deps, then add one line to All in registry.go
// (`CertPosture(d),`). Both modes then serve it; nothing in cmd/certsight.ext/
// changes.
//
//	func CertPosture(d Deps) Table {
//		log := d.logger("cert_posture")
//		return Table{
//			Name:        "cert_posture",
//			Description: "…",
//			Examples:    []string{"SELECT rule, passed, reason FROM cert_posture"},
//			Columns: []table.ColumnDefinition{
//				table.TextColumn("rule", table.ColumnDescription("…")),
//				table.IntegerColumn("passed", table.ColumnDescription("…")),
//				// an input column: left out of SELECT *, handed to Generate
//				table.TextColumn("ca_path", table.HiddenColumn(), table.IndexColumn(),
//					table.ColumnDescription("…")),
//			},
//			Timeout:  d.Timeout,
//			Generate: Collected(func(ctx context.Context, qc table.QueryContext) ([]map[string]string, error) {
//				paths := Patterns(qc, "ca_path")
//				…
//			}),
//		}
//	}
//
// HiddenColumn alone stops osquery from pushing a column's constraints down;
// add IndexColumn (or AdditionalColumn) to keep them. What a table needs from
// the program goes in Deps (Scanner for the stores, ConfigPath for the
// posture config, Logger, Timeout). Test Generate with
// testtables.FakeScanner and a table.QueryContext, SQL through vtable.Open;
// tests/extension drives the real binary.
package tables
