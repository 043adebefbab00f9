// Package vtable serves tables.Table values as SQLite virtual tables on an
// embedded, in-memory SQLite (modernc.org/sqlite), so the standalone shell
// runs the same SQL as osquery with the same push-down: constraints on
// pushed columns (tables.Pushed) reach Generate as an osquery-shaped
// QueryContext, and SQLite re-filters every row, as osquery does. Rows are
// pulled one at a time through tables.Table.Stream.
package vtable

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"iter"
	"strconv"
	"strings"

	"github.com/osquery/osquery-go/plugin/table"
	"modernc.org/sqlite"
	"modernc.org/sqlite/vtab"

	"github.com/certsight/certsight/tables"
)

// Open returns an in-memory database where each table of ts is a virtual
// table of the same name. ctx bounds every generate call made through it.
//
// The database has exactly one connection: the virtual tables are created on
// it, and an in-memory database is private to its connection.
func Open(ctx context.Context, ts []tables.Table) (*sql.DB, error) {
	// A driver of our own: modernc registers modules per driver and refuses a
	// name twice, so each Open gets fresh module names without global state.
	drv := &sqlite.Driver{}
	for _, t := range ts {
		if err := drv.RegisterModule(t.Name, &module{ctx: ctx, t: t}); err != nil {
			return nil, fmt.Errorf("registering table %s: %w", t.Name, err)
		}
	}
	db := sql.OpenDB(connector{drv})
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	for _, t := range ts {
		// Not eponymous: modernc's module has distinct xCreate and xConnect,
		// so each table is created once, under its own name.
		q := fmt.Sprintf("CREATE VIRTUAL TABLE %s USING %s", quoteIdent(t.Name), quoteIdent(t.Name))
		if _, err := db.ExecContext(ctx, q); err != nil {
			db.Close()
			return nil, fmt.Errorf("creating table %s: %w", t.Name, err)
		}
	}
	// From here on the database only answers questions (see readOnly).
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("installing the authorizer: %w", err)
	}
	err = conn.Raw(func(dc any) error {
		r, ok := dc.(sqlite.AuthorizerRegisterer)
		if !ok {
			return fmt.Errorf("the driver has no authorizer")
		}
		return r.RegisterAuthorizer(readOnly)
	})
	conn.Close()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("installing the authorizer: %w", err)
	}
	return db, nil
}

// readOnlyPragmas are the pragmas a query may use: schema introspection,
// which reads only. Everything else that a pragma can do
// (writable_schema, journal settings, ...) is refused.
var readOnlyPragmas = map[string]bool{
	"table_info": true, "table_xinfo": true, "table_list": true, "index_list": true, "index_info": true,
	"function_list": true, "module_list": true, "pragma_list": true, "collation_list": true, "database_list": true,
	"compile_options": true,
}

// readOnly is the SQLite authorizer of the standalone shell: it allows what
// a read-only query needs (SELECT, reading columns, functions, recursive
// CTEs, introspection pragmas) and refuses everything else, as osqueryi
// does: ATTACH (which would open, and write to, any database file, a live
// NSS store included), VACUUM INTO, INSERT/UPDATE/DELETE, CREATE/DROP/ALTER,
// transactions and savepoints, and pragmas that set anything. SQLite then
// fails the statement with "not authorized".
func readOnly(action sqlite.AuthorizerActionCode, arg1, arg2, _, _ string) sqlite.AuthorizerReturnCode {
	switch action {
	case sqlite.AuthSelect, sqlite.AuthRead, sqlite.AuthFunction, sqlite.AuthRecursive:
		return sqlite.AuthorizerOK
	case sqlite.AuthPragma:
		if readOnlyPragmas[strings.ToLower(arg1)] { // their argument names a table, it sets nothing
			return sqlite.AuthorizerOK
		}
	}
	return sqlite.AuthorizerDeny
}

type connector struct{ drv *sqlite.Driver }

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(":memory:") }
func (c connector) Driver() driver.Driver                        { return c.drv }

// Schema returns the CREATE TABLE statement that declares t to SQLite.
func Schema(t tables.Table) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s(", quoteIdent(t.Name))
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", quoteIdent(c.Name), c.Type)
		if c.Hidden {
			b.WriteString(" HIDDEN")
		}
	}
	b.WriteString(")")
	return b.String()
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

type module struct {
	ctx context.Context
	t   tables.Table
}

func (m *module) Create(c vtab.Context, _ []string) (vtab.Table, error) { return m.connect(c) }
func (m *module) Connect(c vtab.Context, _ []string) (vtab.Table, error) {
	return m.connect(c)
}

func (m *module) connect(c vtab.Context) (vtab.Table, error) {
	if err := c.Declare(Schema(m.t)); err != nil {
		return nil, fmt.Errorf("declaring %s: %w", m.t.Name, err)
	}
	return &vtable{ctx: m.ctx, t: m.t}, nil
}

type vtable struct {
	ctx context.Context
	t   tables.Table
}

// Operators handed down, with the osquery operator code they become.
var pushedOps = map[vtab.ConstraintOp]table.Operator{
	vtab.OpEQ:   table.OperatorEquals,
	vtab.OpLIKE: table.OperatorLike,
	vtab.OpGLOB: table.OperatorGlob,
}

// BestIndex hands every usable EQ/LIKE/GLOB constraint on a pushed column to
// Filter; idxStr lists them as "column:op" in argument order. Nothing is
// omitted: SQLite re-checks every row, as osquery lets it. `IN (...)` arrives
// as an EQ constraint that SQLite feeds to Filter once per value.
func (v *vtable) BestIndex(info *vtab.IndexInfo) error {
	var used []string
	constrained := map[int]bool{}
	for i, c := range info.Constraints {
		if !c.Usable || c.Column < 0 || c.Column >= len(v.t.Columns) || !tables.Pushed(v.t.Columns[c.Column]) {
			continue
		}
		op, ok := pushedOps[c.Op]
		if !ok {
			continue
		}
		info.Constraints[i].ArgIndex = len(used)
		used = append(used, fmt.Sprintf("%d:%d", c.Column, op))
		constrained[c.Column] = true
	}
	info.IdxNum = int64(len(used))
	info.IdxStr = strings.Join(used, ",")
	switch {
	case v.missingRequired(constrained):
		info.EstimatedCost = 1e18 // a plan SQLite should never pick; Filter refuses it
	case len(used) > 0:
		info.EstimatedCost = 10
		info.EstimatedRows = 100
	default:
		info.EstimatedCost = 1e6
		info.EstimatedRows = 100000
	}
	return nil
}

func (v *vtable) missingRequired(constrained map[int]bool) bool {
	for i, c := range v.t.Columns {
		if c.Required && !constrained[i] {
			return true
		}
	}
	return false
}

func (v *vtable) Open() (vtab.Cursor, error) { return &cursor{v: v}, nil }
func (v *vtable) Disconnect() error          { return nil }
func (v *vtable) Destroy() error             { return nil }

// cursor pulls rows from Table.Stream one at a time (iter.Pull runs the
// producer as a coroutine), so a scan of thousands of certificates streams
// through SQLite instead of being held whole; SQLite stopping early (LIMIT,
// a closed statement) stops the producer.
type cursor struct {
	v    *vtable
	next func() (map[string]string, bool)
	stop func()
	err  *error // the producer's result, set when it returns
	row  map[string]string
	eof  bool
	n    int64
}

func (c *cursor) Filter(_ int, idxStr string, vals []vtab.Value) error {
	c.release()
	qc, err := c.v.queryContext(idxStr, vals)
	if err != nil {
		return err
	}
	var genErr error
	seq := func(yield func(map[string]string) bool) {
		for row, err := range c.v.t.Stream(c.v.ctx, qc) {
			if err != nil {
				genErr = err
				return
			}
			if !yield(row) {
				return
			}
		}
	}
	c.next, c.stop = iter.Pull(seq)
	c.err, c.n, c.eof = &genErr, 0, false
	return c.advance()
}

// advance moves to the next row; the producer's error, if any, surfaces
// when its rows are exhausted. From Filter (before the first row: the usual
// case, a query that means nothing) SQLite reports it with its message; from
// Next the statement still fails, but modernc's xNext passes no message.
func (c *cursor) advance() error {
	if c.next == nil {
		c.row, c.eof = nil, true
		return nil
	}
	row, ok := c.next()
	if ok {
		c.row = row
		c.n++
		return nil
	}
	c.row, c.eof = nil, true
	err := *c.err
	c.release()
	if err != nil {
		return err
	}
	return nil
}

// release stops the producer, if any.
func (c *cursor) release() {
	if c.stop != nil {
		c.stop()
	}
	c.next, c.stop = nil, nil
}

// queryContext builds what osquery would send: every column with its
// affinity, and the pushed constraints with their osquery operator codes.
func (v *vtable) queryContext(idxStr string, vals []vtab.Value) (table.QueryContext, error) {
	qc := table.QueryContext{Constraints: make(map[string]table.ConstraintList, len(v.t.Columns))}
	for _, col := range v.t.Columns {
		qc.Constraints[col.Name] = table.ConstraintList{Affinity: col.Type, Constraints: []table.Constraint{}}
	}
	if idxStr != "" {
		for i, part := range strings.Split(idxStr, ",") {
			colS, opS, _ := strings.Cut(part, ":")
			col, err1 := strconv.Atoi(colS)
			op, err2 := strconv.Atoi(opS)
			if err1 != nil || err2 != nil || col < 0 || col >= len(v.t.Columns) || i >= len(vals) {
				return qc, fmt.Errorf("%s: bad index plan %q", v.t.Name, idxStr)
			}
			expr, ok := valueString(vals[i])
			if !ok || expr == "" {
				continue // NULL or empty never selects anything to read; osquery drops these too
			}
			name := v.t.Columns[col].Name
			cl := qc.Constraints[name]
			cl.Constraints = append(cl.Constraints, table.Constraint{Operator: table.Operator(op), Expression: expr})
			qc.Constraints[name] = cl
		}
	}
	for _, col := range v.t.Columns {
		if col.Required && len(qc.Constraints[col.Name].Constraints) == 0 {
			return qc, fmt.Errorf("table %s was queried without a required column in the WHERE clause", v.t.Name)
		}
	}
	return qc, nil
}

func valueString(v vtab.Value) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return strings.Clone(x), true
	case []byte:
		return string(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case bool:
		if x {
			return "1", true
		}
		return "0", true
	}
	return fmt.Sprint(v), true
}

func (c *cursor) Next() error  { return c.advance() }
func (c *cursor) Eof() bool    { return c.eof }
func (c *cursor) Close() error { c.release(); c.row = nil; return nil }

func (c *cursor) Rowid() (int64, error) { return c.n, nil }

// Column converts the row's string to the column's type the way osquery
// does: a missing key is NULL, and so is an empty or unparsable number.
func (c *cursor) Column(col int) (vtab.Value, error) {
	if c.row == nil || col < 0 || col >= len(c.v.t.Columns) {
		return nil, nil
	}
	def := c.v.t.Columns[col]
	s, ok := c.row[def.Name]
	if !ok {
		return nil, nil
	}
	switch def.Type {
	case table.ColumnTypeInteger, table.ColumnTypeBigInt:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, nil
		}
		return n, nil
	case table.ColumnTypeUnsignedBigInt:
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, nil
		}
		return int64(n), nil // SQLite has no unsigned type; osquery stores it the same way
	case table.ColumnTypeDouble:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, nil
		}
		return f, nil
	case table.ColumnTypeBlob:
		return []byte(s), nil
	}
	return s, nil
}
