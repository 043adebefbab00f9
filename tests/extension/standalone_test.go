package extension_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shell runs `certsight.ext args...` standalone and returns stdout, stderr
// and the exit code.
func shell(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(extBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = strings.NewReader(stdin)
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return out.String(), errb.String(), code
}

// queryJSON runs sql with --json and decodes the array of string objects.
func queryJSON(t *testing.T, sql string) []map[string]string {
	t.Helper()
	out, errOut, code := shell(t, "", "--json", "--query", sql)
	require.Equal(t, 0, code, "stderr: %s", errOut)
	var rows []map[string]string // decoding into strings proves every value is a string
	require.NoError(t, json.Unmarshal([]byte(out), &rows), out)
	return rows
}

func column(rows []map[string]string, name string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r[name])
	}
	return out
}

func TestStandaloneSQL(t *testing.T) {
	f := newFixture(t)
	q := func(s string) string {
		return strings.NewReplacer("CERTS", f.certDir, "CADIR", f.caDir, "ROOT", f.root).Replace(s)
	}

	t.Run("WHERE on columns that are not pushed down, ORDER BY", func(t *testing.T) {
		rows := queryJSON(t, q(`SELECT common_name, has_private_key FROM client_certificates
			WHERE path = 'CERTS' AND extended_key_usage LIKE '%clientAuth%' ORDER BY common_name DESC`))
		assert.Equal(t, []map[string]string{
			{"common_name": "bob", "has_private_key": "0"},
			{"common_name": "alice", "has_private_key": "1"},
		}, rows)
	})
	t.Run("integer columns compare as numbers", func(t *testing.T) {
		rows := queryJSON(t, q(`SELECT common_name FROM client_certificates
			WHERE path = 'CERTS' AND has_private_key = 1 AND not_valid_after > strftime('%s','now')
			AND not_valid_before < not_valid_after`))
		assert.Equal(t, []string{"alice"}, column(rows, "common_name"))
	})
	t.Run("JOIN between two scans: leaf to its issuing CA by key identifier", func(t *testing.T) {
		rows := queryJSON(t, q(`SELECT leaf.common_name AS leaf, ca.common_name AS issuer, ca.ca AS issuer_is_ca
			FROM client_certificates leaf
			JOIN client_certificates ca ON ca.subject_key_id = leaf.authority_key_id
			WHERE leaf.path = 'CERTS' AND ca.path = 'CADIR'
			ORDER BY leaf.common_name`))
		assert.Equal(t, []string{"alice", "bob", "server"}, column(rows, "leaf"))
		assert.Equal(t, []string{"Fixture Root CA", "Fixture Root CA", "Fixture Root CA"}, column(rows, "issuer"))
		assert.Equal(t, []string{"1", "1", "1"}, column(rows, "issuer_is_ca"))
	})
	t.Run("path IN and LIKE push down like osquery", func(t *testing.T) {
		rows := queryJSON(t, q(`SELECT common_name FROM client_certificates
			WHERE path IN ('CADIR', 'CERTS/bob.crt') ORDER BY 1`))
		assert.Equal(t, []string{"Fixture Root CA", "bob"}, column(rows, "common_name"))
		rows = queryJSON(t, q(`SELECT common_name FROM client_certificates WHERE path LIKE 'ROOT/%/%.crt' ORDER BY 1`))
		assert.Equal(t, []string{"alice", "bob", "server"}, column(rows, "common_name"))
	})
	t.Run("aggregates", func(t *testing.T) {
		rows := queryJSON(t, q(`SELECT store, count(*) AS n, sum(has_private_key) AS keys
			FROM client_certificates WHERE path IN ('CERTS', 'CADIR') GROUP BY store`))
		assert.Equal(t, []map[string]string{{"store": "pem", "n": "4", "keys": "1"}}, rows)
	})
	t.Run("a per-item read error is a warning on stderr; the rows still print", func(t *testing.T) {
		out, errOut, code := shell(t, "", "--csv", "--query", q(`SELECT common_name FROM client_certificates WHERE path = 'CERTS' ORDER BY 1`))
		require.Equal(t, 0, code)
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		require.NoError(t, err)
		assert.Equal(t, [][]string{{"common_name"}, {"alice"}, {"bob"}, {"server"}}, recs)
		assert.Contains(t, errOut, "level=WARN")
		assert.Contains(t, errOut, "broken.pem")
	})
	t.Run("pretty table by default", func(t *testing.T) {
		out, _, code := shell(t, "", "--query", q(`SELECT common_name, ca FROM client_certificates WHERE path = 'CADIR'`))
		require.Equal(t, 0, code)
		assert.Equal(t, "+-----------------+----+\n"+
			"| common_name     | ca |\n"+
			"+-----------------+----+\n"+
			"| Fixture Root CA | 1  |\n"+
			"+-----------------+----+\n", out)
	})
	t.Run("SQL from stdin, several statements", func(t *testing.T) {
		out, errOut, code := shell(t, q("SELECT count(*) AS n FROM client_certificates WHERE path = 'CADIR';\n-- a comment; with a semicolon\nSELECT 'a;b' AS s;"), "--json")
		require.Equal(t, 0, code, errOut)
		assert.Equal(t, "[\n[\n  {\"n\":\"1\"}\n],\n[\n  {\"s\":\"a;b\"}\n]\n]\n", out, "one JSON document: an array of the result arrays")
	})
	t.Run("bad SQL fails with an error", func(t *testing.T) {
		_, errOut, code := shell(t, "", "--query", "SELECT nope FROM client_certificates")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "no such column")
	})
	t.Run("json and csv exclude each other", func(t *testing.T) {
		_, _, code := shell(t, "", "--json", "--csv", "--query", "SELECT 1")
		assert.Equal(t, 2, code)
	})
}

func TestVersionFlag(t *testing.T) {
	out, _, code := shell(t, "", "--version")
	require.Equal(t, 0, code)
	assert.True(t, strings.HasPrefix(out, "certsight.ext "), out)
}
