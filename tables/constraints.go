package tables

import (
	"strings"

	"github.com/osquery/osquery-go/plugin/table"
)

// Every table reads its constraints through these helpers, so push-down means
// the same thing everywhere. They only narrow the work: SQLite re-applies
// every WHERE term to the rows, so returning more rows than asked is correct,
// returning fewer is not.

// Equals returns the de-duplicated, non-empty values of the `column = value`
// constraints (also `column IN (...)`, which osquery sends as EQUALS), in
// query order.
func Equals(qc table.QueryContext, column string) []string {
	var out []string
	for _, c := range qc.Constraints[column].Constraints {
		if c.Operator == table.OperatorEquals {
			out = appendUnique(out, c.Expression)
		}
	}
	return out
}

// Patterns returns the de-duplicated, non-empty filesystem patterns named by
// the constraints on column: `=` values as they are, LIKE patterns turned into
// globs (LikeToGlob), GLOB patterns as they are. Other operators are ignored.
func Patterns(qc table.QueryContext, column string) []string {
	var out []string
	for _, c := range qc.Constraints[column].Constraints {
		if p, ok := pattern(c); ok {
			out = appendUnique(out, p)
		}
	}
	return out
}

// pattern is the glob one constraint selects: `=` and GLOB values as they
// are, a LIKE pattern through LikeToGlob; ok is false for other operators.
func pattern(c table.Constraint) (p string, ok bool) {
	switch c.Operator {
	case table.OperatorEquals, table.OperatorGlob:
		return c.Expression, true
	case table.OperatorLike:
		return LikeToGlob(c.Expression), true
	}
	return "", false
}

// LikeToGlob turns an SQL LIKE pattern into a filesystem glob: `%` becomes
// `*` and `_` becomes `?`. LIKE is case-insensitive and a glob is not; the
// rows are re-filtered by SQLite, so a glob that finds too much is harmless.
func LikeToGlob(like string) string {
	return strings.NewReplacer("%", "*", "_", "?").Replace(like)
}

func appendUnique(list []string, v string) []string {
	if v == "" {
		return list // osquery drops empty expressions too
	}
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}
