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
// func. Table.Rows runs Generate under the table's deadline; the osquery
// plugin calls it. A table may also have a Stream func that emits the same
// rows one at a time; Table.Each runs it (or falls back to Generate) under
// the deadline, and the standalone virtual table pulls rows through it, so
// a scan of thousands of certificates never sits in memory whole.
// client_certificates streams when its Scanner is an EachScanner.
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
// item through Deps.Logger (use logErrors or log.Warn with "err") and the
// other rows are returned. Generate returns an error only when the query as a
// whole cannot mean anything; osquery then fails the whole query.
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
//			Generate: func(ctx context.Context, qc table.QueryContext) ([]map[string]string, error) {
//				paths := Patterns(qc, "ca_path")
//				…
//			},
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
