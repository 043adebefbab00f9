package tables

import (
	"testing"

	"github.com/osquery/osquery-go/plugin/table"
	"github.com/stretchr/testify/assert"
)

func qcOf(col string, cs ...table.Constraint) table.QueryContext {
	return table.QueryContext{Constraints: map[string]table.ConstraintList{
		col:     {Affinity: table.ColumnTypeText, Constraints: cs},
		"other": {Affinity: table.ColumnTypeText, Constraints: []table.Constraint{{Operator: table.OperatorEquals, Expression: "/elsewhere"}}},
	}}
}

func eq(v string) table.Constraint {
	return table.Constraint{Operator: table.OperatorEquals, Expression: v}
}
func like(v string) table.Constraint {
	return table.Constraint{Operator: table.OperatorLike, Expression: v}
}

func TestPatterns(t *testing.T) {
	for _, tc := range []struct {
		name string
		cs   []table.Constraint
		want []string
	}{
		{"no constraint reads nothing named", nil, nil},
		{"equals is taken verbatim", []table.Constraint{eq("/a/b.pem")}, []string{"/a/b.pem"}},
		{"IN values arrive as several equals, de-duplicated in order",
			[]table.Constraint{eq("/b"), eq("/a"), eq("/b")}, []string{"/b", "/a"}},
		{"LIKE percent and underscore become a glob",
			[]table.Constraint{like("/home/%/.pki/nssd_")}, []string{"/home/*/.pki/nssd?"}},
		{"GLOB is taken verbatim", []table.Constraint{{Operator: table.OperatorGlob, Expression: "/x/*.pem"}}, []string{"/x/*.pem"}},
		{"empty expressions are dropped", []table.Constraint{eq(""), like("")}, nil},
		{"comparison operators do not name paths",
			[]table.Constraint{{Operator: table.OperatorGreaterThan, Expression: "/a"}, {Operator: table.OperatorLessThan, Expression: "/z"}}, nil},
		{"equals and LIKE combine", []table.Constraint{eq("/a"), like("/b/%")}, []string{"/a", "/b/*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Patterns(qcOf("path", tc.cs...), "path"))
		})
	}
}

func TestEquals(t *testing.T) {
	qc := qcOf("store", eq("nssdb"), like("pe%"), eq("pem"), eq("nssdb"))
	assert.Equal(t, []string{"nssdb", "pem"}, Equals(qc, "store"), "only = values, de-duplicated")
	assert.Nil(t, Equals(qc, "missing"), "a column without constraints")
	assert.Nil(t, Equals(table.QueryContext{}, "store"), "a nil constraint map")
}

func TestLikeToGlob(t *testing.T) {
	assert.Equal(t, "/Users/*/Library/Keychains/login.keychain-db", LikeToGlob("/Users/%/Library/Keychains/login.keychain-db"))
	assert.Equal(t, "a?b*", LikeToGlob("a_b%"))
}
