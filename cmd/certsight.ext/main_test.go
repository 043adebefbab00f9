package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/osquery/osquery-go/plugin/table"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/tables"
	"github.com/certsight/certsight/tables/vtable"
)

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		check   func(t *testing.T, o options)
		wantErr bool
	}{
		{"osquery's autoload argv", []string{"--verbose", "--socket", "/var/osquery/osquery.em", "--timeout", "3", "--interval", "3"},
			func(t *testing.T, o options) {
				assert.Equal(t, "/var/osquery/osquery.em", o.socket)
				assert.Equal(t, 3.0, o.timeout)
				assert.Equal(t, 3.0, o.interval)
				assert.True(t, o.verbose)
				assert.Empty(t, o.unknown)
			}, false},
		{"unknown flags are collected, not fatal", []string{"--socket=/s", "--extensions_require=x", "-z"},
			func(t *testing.T, o options) {
				assert.Equal(t, "/s", o.socket)
				assert.Equal(t, []string{"--extensions_require=x", "-z"}, o.unknown)
			}, false},
		{"standalone query", []string{"-q", "SELECT 1", "--json"},
			func(t *testing.T, o options) {
				assert.Equal(t, "SELECT 1", o.query)
				assert.True(t, o.json)
			}, false},
		{"json and csv together", []string{"--json", "--csv"}, nil, true},
		{"a known flag with a bad value", []string{"--timeout", "soon"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags(tc.args, &bytes.Buffer{})
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			tc.check(t, o)
		})
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	t.Setenv("CERTSIGHT_CONFIG", "/etc/x.json")
	o, err := parseFlags(nil, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "/etc/x.json", o.config)
	o, err = parseFlags([]string{"--config", "/y.json"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "/y.json", o.config, "the flag wins over the environment")
}

func TestSplitStatements(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"SELECT 1", []string{"SELECT 1"}},
		{"SELECT 1; SELECT 2;", []string{"SELECT 1", "SELECT 2"}},
		{"SELECT ';' AS s; SELECT \"a;b\"", []string{"SELECT ';' AS s", "SELECT \"a;b\""}},
		{"SELECT 1 -- x; y\n; SELECT 2", []string{"SELECT 1 -- x; y", "SELECT 2"}},
		{"SELECT /* ; */ 1;", []string{"SELECT /* ; */ 1"}},
		{" ; ;\n -- only a comment\n", nil},
		{"SELECT 'unterminated;", []string{"SELECT 'unterminated;"}},
	} {
		assert.Equal(t, tc.want, splitStatements(tc.in), "%q", tc.in)
	}
}

func FuzzSplitStatements(f *testing.F) {
	for _, s := range []string{"SELECT 1; SELECT 2", "SELECT ';'", "-- c\nSELECT 1", "/* x", "[a;b]; `c;d`", "'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		stmts, rest := completeStatements(s)
		for _, q := range stmts {
			if q == "" || len(q) > len(s) {
				t.Fatalf("bad statement %q from %q", q, s)
			}
		}
		if len(rest) > len(s) {
			t.Fatalf("rest longer than input")
		}
		_ = splitStatements(s)
	})
}

func TestFormats(t *testing.T) {
	cols := []string{"name", "note"}
	rows := [][]string{{"alice", "a<b & \"c\""}, {"bø", ""}}
	var b bytes.Buffer
	require.NoError(t, formatJSON(&b, cols, rows))
	assert.Equal(t, "[\n  {\"name\":\"alice\",\"note\":\"a<b & \\\"c\\\"\"},\n  {\"name\":\"bø\",\"note\":\"\"}\n]\n", b.String())
	b.Reset()
	require.NoError(t, formatJSON(&b, cols, nil))
	assert.Equal(t, "[\n]\n", b.String())
	b.Reset()
	require.NoError(t, formatCSV(&b, cols, rows))
	assert.Equal(t, "name,note\r\nalice,\"a<b & \"\"c\"\"\"\r\nbø,\r\n", b.String(), "RFC 4180: CRLF")
	b.Reset()
	require.NoError(t, formatPretty(&b, cols, rows))
	assert.Equal(t, "+-------+-----------+\n| name  | note      |\n+-------+-----------+\n"+
		"| alice | a<b & \"c\" |\n| bø    |           |\n+-------+-----------+\n", b.String(), "widths count runes")
}

func TestInteractive(t *testing.T) {
	tbl := tables.Table{
		Name:    "things",
		Columns: []table.ColumnDefinition{table.TextColumn("name", table.IndexColumn()), table.IntegerColumn("n")},
		Generate: tables.Collected(func(context.Context, table.QueryContext) ([]map[string]string, error) {
			return []map[string]string{{"name": "a", "n": "1"}, {"name": "b", "n": "2"}}, nil
		}),
	}
	db, err := vtable.Open(context.Background(), []tables.Table{tbl})
	require.NoError(t, err)
	defer db.Close()
	var out, errOut bytes.Buffer
	sh := &shell{ctx: context.Background(), db: db, tables: []tables.Table{tbl}, format: prettyFormat, stdout: &out, stderr: &errOut}
	in := strings.Join([]string{
		".tables",
		".schema things",
		".mode csv",
		"SELECT name, n",
		"FROM things WHERE n > 1;",
		"SELECT nope FROM things;",
		".bogus",
		".exit",
		"SELECT 'never run';",
	}, "\n")
	require.Equal(t, 0, sh.interactive(strings.NewReader(in)))
	assert.Contains(t, out.String(), "=> things")
	assert.Contains(t, out.String(), `CREATE TABLE "things"("name" TEXT, "n" INTEGER);`)
	assert.Contains(t, out.String(), "name,n\r\nb,2\r\n", "a statement over two lines, in csv mode")
	assert.NotContains(t, out.String(), "never run", ".exit leaves")
	assert.Contains(t, errOut.String(), "no such column: nope", "an error does not end the session")
	assert.Contains(t, errOut.String(), "unknown command .bogus")
}
