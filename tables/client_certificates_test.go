package tables_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"strconv"
	"testing"
	"time"

	"github.com/osquery/osquery-go/plugin/table"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testpki"
	"github.com/certsight/certsight/internal/testtables"
	"github.com/certsight/certsight/stores"
	"github.com/certsight/certsight/tables"
)

var wantColumns = []struct{ name, typ string }{
	{"store", "TEXT"}, {"store_location", "TEXT"}, {"path", "TEXT"}, {"username", "TEXT"}, {"label", "TEXT"},
	{"common_name", "TEXT"}, {"subject", "TEXT"}, {"issuer", "TEXT"}, {"serial", "TEXT"},
	{"not_valid_before", "BIGINT"}, {"not_valid_after", "BIGINT"}, {"sha1", "TEXT"}, {"sha256", "TEXT"},
	{"signing_algorithm", "TEXT"}, {"key_algorithm", "TEXT"}, {"key_strength", "TEXT"}, {"key_usage", "TEXT"},
	{"extended_key_usage", "TEXT"}, {"subject_alt_names", "TEXT"}, {"ms_sid", "TEXT"}, {"template", "TEXT"}, {"subject_key_id", "TEXT"},
	{"authority_key_id", "TEXT"}, {"ca", "INTEGER"}, {"self_signed", "INTEGER"}, {"has_private_key", "INTEGER"},
	{"private_key", "TEXT"}, {"trust", "TEXT"},
}

func entry(t *testing.T, c *testpki.Cert, kind stores.Kind, path string, key stores.KeyMatch) stores.Entry {
	t.Helper()
	e := stores.NewEntry(c.Cert, kind, stores.LocationPath, path)
	e.Key = key
	return e
}

func TestClientCertificatesRegistration(t *testing.T) {
	p := tables.ClientCertificates(tables.Deps{Scanner: &testtables.FakeScanner{}}).Plugin()
	assert.Equal(t, "client_certificates", p.Name())
	routes := p.Routes()
	require.Len(t, routes, len(wantColumns))
	for i, want := range wantColumns {
		op := "0"
		switch want.name {
		case "path":
			op = "9" // INDEX|OPTIMIZED: IN (...) arrives in one generate call
		case "store":
			op = "1" // INDEX
		}
		assert.Equal(t, map[string]string{"id": "column", "name": want.name, "type": want.typ, "op": op}, routes[i], "column %d", i)
	}
	spec := p.Spec()
	assert.NotEmpty(t, spec.Description)
	assert.NotEmpty(t, spec.Examples)
	for _, c := range spec.Columns {
		assert.NotEmpty(t, c.Description, "column %s has a description", c.Name)
	}
	_, err := json.Marshal(spec)
	require.NoError(t, err)
}

func TestClientCertificatesPushDown(t *testing.T) {
	for _, tc := range []struct {
		name string
		qc   table.QueryContext
		want []testtables.Call // nil: no read at all
	}{
		{"no constraint reads the default stores", table.QueryContext{},
			[]testtables.Call{{Method: "Defaults"}}},
		{"path = reads exactly that path",
			qc(map[string][]table.Constraint{"path": {{Operator: table.OperatorEquals, Expression: "/etc/pki/nssdb"}}}),
			[]testtables.Call{{Method: "Paths", Paths: []string{"/etc/pki/nssdb"}}}},
		{"several path values are read in one call",
			qc(map[string][]table.Constraint{"path": {{Operator: table.OperatorEquals, Expression: "/a.pem"}, {Operator: table.OperatorEquals, Expression: "/b.pem"}}}),
			[]testtables.Call{{Method: "Paths", Paths: []string{"/a.pem", "/b.pem"}}}},
		{"path LIKE is read as a glob",
			qc(map[string][]table.Constraint{"path": {{Operator: table.OperatorLike, Expression: "/home/%/.pki/nssdb"}}}),
			[]testtables.Call{{Method: "Paths", Paths: []string{"/home/*/.pki/nssdb"}}}},
		{"store = restricts the readers of the defaults",
			qc(map[string][]table.Constraint{"store": {{Operator: table.OperatorEquals, Expression: "nssdb"}}}),
			[]testtables.Call{{Method: "Defaults", Kinds: []stores.Kind{stores.KindNSSDB}}}},
		{"store = and path = combine",
			qc(map[string][]table.Constraint{
				"store": {{Operator: table.OperatorEquals, Expression: "pem"}},
				"path":  {{Operator: table.OperatorEquals, Expression: "/x"}}}),
			[]testtables.Call{{Method: "Paths", Paths: []string{"/x"}, Kinds: []stores.Kind{stores.KindPEM}}}},
		{"an unknown store reads nothing",
			qc(map[string][]table.Constraint{"store": {{Operator: table.OperatorEquals, Expression: "floppy"}}}),
			nil},
		{"constraints on other columns do not change what is read",
			qc(map[string][]table.Constraint{"common_name": {{Operator: table.OperatorEquals, Expression: "alice"}}}),
			[]testtables.Call{{Method: "Defaults"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := &testtables.FakeScanner{}
			_, err := tables.ClientCertificates(tables.Deps{Scanner: fs}).Rows(context.Background(), tc.qc)
			require.NoError(t, err)
			assert.Equal(t, tc.want, fs.Calls())
		})
	}
}

func qc(m map[string][]table.Constraint) table.QueryContext {
	out := table.QueryContext{Constraints: map[string]table.ConstraintList{}}
	for k, v := range m {
		out.Constraints[k] = table.ConstraintList{Affinity: table.ColumnTypeText, Constraints: v}
	}
	return out
}

func TestClientCertificatesRows(t *testing.T) {
	ca, err := testpki.Issue(nil, testpki.Options{Subject: pkix.Name{CommonName: "Test Root CA", Organization: []string{"certsight test"}}, IsCA: true, Serial: big.NewInt(1)})
	require.NoError(t, err)
	nb := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	leaf, err := ca.Issue(testpki.Options{
		Subject: pkix.Name{CommonName: "alice"}, Serial: big.NewInt(0x0F22F9), NotBefore: nb, NotAfter: nb.Add(48 * time.Hour),
		EKU:      []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection},
		DNSNames: []string{"alice.example"}, Emails: []string{"alice@example.com"},
	})
	require.NoError(t, err)

	var logs bytes.Buffer
	fs := &testtables.FakeScanner{Respond: func(context.Context, testtables.Call) stores.Result {
		e := entry(t, leaf, stores.KindNSSDB, "/db", stores.KeyLinked)
		e.Label, e.Username, e.Trust, e.Location = "alice cert", "alice", "u,u,u", stores.LocationUser
		return stores.Result{
			Entries: []stores.Entry{e, entry(t, ca, stores.KindPEM, "/ca.pem", stores.KeyAbsent)},
			Errors:  []error{&stores.ItemError{Store: stores.KindPEM, Path: "/broken.pem", Err: errors.New("truncated PEM")}},
		}
	}}
	tbl := tables.ClientCertificates(tables.Deps{Scanner: fs, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	rows, err := tbl.Rows(context.Background(), table.QueryContext{})
	require.NoError(t, err, "a per-item error never fails the query")
	require.Len(t, rows, 2)
	assert.Contains(t, logs.String(), "/broken.pem", "the per-item error is logged with the item")
	assert.Contains(t, logs.String(), "truncated PEM")

	for _, r := range rows {
		require.Len(t, r, len(wantColumns), "every column has a value")
	}
	want := map[string]string{
		"store": "nssdb", "store_location": "user", "path": "/db", "username": "alice", "label": "alice cert",
		"common_name": "alice", "subject": "CN=alice", "issuer": "CN=Test Root CA,O=certsight test",
		"serial": "0F22F9", "not_valid_before": strconv.FormatInt(nb.Unix(), 10),
		"not_valid_after":   strconv.FormatInt(nb.Add(48*time.Hour).Unix(), 10),
		"signing_algorithm": "ECDSA-SHA256", "key_algorithm": "ECDSA", "key_strength": "P-256",
		"key_usage": "digitalSignature", "extended_key_usage": "clientAuth,emailProtection",
		"subject_alt_names": "DNS:alice.example,email:alice@example.com",
		"ca":                "0", "self_signed": "0", "has_private_key": "0", "private_key": "linked", "trust": "u,u,u",
	}
	for k, v := range want {
		assert.Equal(t, v, rows[0][k], k)
	}
	assert.Len(t, rows[0]["sha256"], 64)
	assert.Len(t, rows[0]["sha1"], 40)
	assert.Equal(t, rows[1]["subject_key_id"], rows[0]["authority_key_id"], "leaf AKI is the CA's SKI")
	assert.Equal(t, "1", rows[1]["ca"])
	assert.Equal(t, "1", rows[1]["self_signed"])
	assert.Equal(t, "0", rows[1]["has_private_key"])
	assert.Equal(t, "absent", rows[1]["private_key"])
	assert.Equal(t, "digitalSignature,keyCertSign,cRLSign", rows[1]["key_usage"])
}

func TestClientCertificatesDeadline(t *testing.T) {
	fs := &testtables.FakeScanner{Respond: func(ctx context.Context, _ testtables.Call) stores.Result {
		<-ctx.Done() // a store that hangs until the deadline
		return stores.Result{Errors: []error{ctx.Err()}}
	}}
	tbl := tables.ClientCertificates(tables.Deps{Scanner: fs, Timeout: 50 * time.Millisecond})
	start := time.Now()
	rows, err := tbl.Rows(context.Background(), table.QueryContext{})
	require.ErrorIs(t, err, context.DeadlineExceeded, "a query that ran out of time fails; it never passes for a shorter answer")
	assert.Empty(t, rows)
	assert.Less(t, time.Since(start), 2*time.Second, "generate ends at its deadline")
}

func TestClientCertificatesWithoutScannerFails(t *testing.T) {
	_, err := tables.ClientCertificates(tables.Deps{}).Rows(context.Background(), table.QueryContext{})
	require.Error(t, err)
}

func TestAllHasUniqueNames(t *testing.T) {
	seen := map[string]bool{}
	for _, tb := range tables.All(tables.Deps{Scanner: &testtables.FakeScanner{}}) {
		assert.False(t, seen[tb.Name], "duplicate table %s", tb.Name)
		seen[tb.Name] = true
		assert.NotEqual(t, "certificates", tb.Name, "osquery refuses names of built-in tables")
		assert.NotNil(t, tb.Generate)
	}
	assert.True(t, seen["client_certificates"])
}

func TestClientCertificatesStreamsLikeGenerate(t *testing.T) {
	ca, err := testpki.NewRoot("Stream Root CA")
	require.NoError(t, err)
	var leaves []*testpki.Cert
	for i := range 5 {
		c, err := ca.Issue(testpki.Options{Subject: pkix.Name{CommonName: "leaf-" + strconv.Itoa(i)}, Serial: big.NewInt(int64(100 + i))})
		require.NoError(t, err)
		leaves = append(leaves, c)
	}
	broken := &stores.ItemError{Store: stores.KindPEM, Path: "/broken.pem", Err: errors.New("truncated PEM")}
	respond := func(context.Context, testtables.Call) stores.Result {
		res := stores.Result{Errors: []error{broken}}
		for i, c := range leaves {
			res.Entries = append(res.Entries, entry(t, c, stores.KindPEM, "/d/"+strconv.Itoa(i)+".pem", stores.KeyAbsent))
		}
		return res
	}
	pathQC := qc(map[string][]table.Constraint{"path": {{Operator: table.OperatorEquals, Expression: "/d"}}})

	streaming := &testtables.FakeScanner{Respond: respond}
	want, err := tables.ClientCertificates(tables.Deps{Scanner: streaming}).Rows(context.Background(), pathQC)
	require.NoError(t, err)
	require.Len(t, want, len(leaves))
	assert.Equal(t, "/d", want[0]["path"], "path as the query named it")

	for name, sc := range map[string]tables.Scanner{"streaming": streaming} {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			tbl := tables.ClientCertificates(tables.Deps{Scanner: sc, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			var got []map[string]string
			for row, err := range tbl.Stream(context.Background(), pathQC) {
				require.NoError(t, err)
				got = append(got, row)
			}
			assert.Equal(t, want, got, "Stream yields what Rows returns")
			assert.Contains(t, logs.String(), "truncated PEM")

			logs.Reset()
			emitted := 0
			for range tbl.Stream(context.Background(), pathQC) {
				if emitted++; emitted == 2 {
					break // range panics if the table yields again
				}
			}
			assert.Equal(t, 2, emitted)
		})
	}
}

// TestLiteralGlobIsNotRead: `path = '/d/*.pem'` compares literally, so the
// files a glob would match are not read (SQLite would drop every row), and
// the log says so; LIKE and GLOB still expand.
func TestLiteralGlobIsNotRead(t *testing.T) {
	fs := &testtables.FakeScanner{}
	var logs bytes.Buffer
	tbl := tables.ClientCertificates(tables.Deps{Scanner: fs, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	eq := qc(map[string][]table.Constraint{"path": {{Operator: table.OperatorEquals, Expression: "/nonexistent-dir/*.pem"}}})
	_, err := tbl.Rows(context.Background(), eq)
	require.NoError(t, err)
	assert.Empty(t, fs.Calls(), "nothing read")
	assert.Contains(t, logs.String(), "use LIKE or GLOB")

	like := qc(map[string][]table.Constraint{"path": {{Operator: table.OperatorLike, Expression: "/nonexistent-dir/%.pem"}}})
	_, err = tbl.Rows(context.Background(), like)
	require.NoError(t, err)
	require.Len(t, fs.Calls(), 1)
	assert.Equal(t, []string{"/nonexistent-dir/*.pem"}, fs.Calls()[0].Paths)
}
