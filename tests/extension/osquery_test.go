package extension_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	gen "github.com/osquery/osquery-go/gen/osquery"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/tables"
)

// The registration osquery must receive for client_certificates: exact
// column names, order, types and options (INDEX=1, OPTIMIZED=8).
var wantRoutes = [][3]string{
	{"store", "TEXT", "1"}, {"store_location", "TEXT", "0"}, {"path", "TEXT", "9"}, {"username", "TEXT", "0"},
	{"label", "TEXT", "0"}, {"common_name", "TEXT", "0"}, {"subject", "TEXT", "0"}, {"issuer", "TEXT", "0"},
	{"serial", "TEXT", "0"}, {"not_valid_before", "BIGINT", "0"}, {"not_valid_after", "BIGINT", "0"},
	{"sha1", "TEXT", "0"}, {"sha256", "TEXT", "0"}, {"signing_algorithm", "TEXT", "0"},
	{"key_algorithm", "TEXT", "0"}, {"key_strength", "TEXT", "0"}, {"key_usage", "TEXT", "0"},
	{"extended_key_usage", "TEXT", "0"}, {"subject_alt_names", "TEXT", "0"}, {"ms_sid", "TEXT", "0"}, {"template", "TEXT", "0"}, {"subject_key_id", "TEXT", "0"},
	{"authority_key_id", "TEXT", "0"}, {"ca", "INTEGER", "0"}, {"self_signed", "INTEGER", "0"},
	{"has_private_key", "INTEGER", "0"}, {"private_key", "TEXT", "0"}, {"trust", "TEXT", "0"},
}

func columnNames() []string {
	var out []string
	for _, r := range wantRoutes {
		out = append(out, r[0])
	}
	return out
}

func TestOsqueryDrivesExtension(t *testing.T) {
	needExtensionServer(t)
	f := newFixture(t)
	sock := socketPath(shortDir(t))
	m := startManager(t, sock)
	p := startExtension(t, sock, "--verbose") // osquery puts --verbose first

	reg := m.waitRegistered(t, 5*time.Second)
	assert.Equal(t, "certsight", reg.Info.Name)
	assert.NotEmpty(t, reg.Info.Version)
	if builtVersion != "" {
		assert.Equal(t, builtVersion, reg.Info.Version, "version comes from -ldflags -X main.version")
	}
	require.Contains(t, reg.Registry, "table")
	routes, ok := reg.Registry["table"]["client_certificates"]
	require.True(t, ok, "client_certificates registered; got %v", reg.Registry["table"])
	require.Len(t, routes, len(wantRoutes))
	for i, w := range wantRoutes {
		assert.Equal(t, map[string]string{"id": "column", "name": w[0], "type": w[1], "op": w[2]}, routes[i], "column %d", i)
	}

	// Every table of tables.All is registered, with the routes its plugin
	// declares (the posture tables included).
	all := tables.All(tables.Deps{})
	assert.Len(t, reg.Registry["table"], len(all))
	for _, tb := range all {
		assert.Equal(t, gen.ExtensionPluginResponse(tb.Plugin().Routes()), reg.Registry["table"][tb.Name], tb.Name)
	}

	ext := extensionClient(t, sock, m.uuid)
	ctx := context.Background()

	cols, err := ext.Call(ctx, "table", "client_certificates", gen.ExtensionPluginRequest{"action": "columns"})
	require.NoError(t, err)
	require.Equal(t, int32(0), cols.Status.Code)
	assert.Len(t, cols.Response, len(wantRoutes))

	generate := func(t *testing.T, constraints map[string][]op) []map[string]string {
		t.Helper()
		resp, err := ext.Call(ctx, "table", "client_certificates", gen.ExtensionPluginRequest{
			"action": "generate", "context": osqueryContext(t, columnNames(), constraints)})
		require.NoError(t, err)
		require.Equal(t, int32(0), resp.Status.Code, resp.Status.Message)
		return resp.Response
	}
	cnAndPath := func(rows []map[string]string) []string {
		var out []string
		for _, r := range rows {
			out = append(out, r["common_name"]+" "+r["path"])
		}
		sort.Strings(out)
		return out
	}

	t.Run("path EQUALS a certificate and key file pair", func(t *testing.T) {
		rows := generate(t, map[string][]op{"path": {{opEquals, f.alice}}})
		require.Len(t, rows, 1)
		r := rows[0]
		assert.Equal(t, "alice", r["common_name"])
		assert.Equal(t, "pem", r["store"])
		assert.Equal(t, "path", r["store_location"])
		assert.Equal(t, f.alice, r["path"])
		assert.Equal(t, "clientAuth,emailProtection", r["extended_key_usage"])
		assert.Equal(t, "DNS:alice.example", r["subject_alt_names"])
		assert.Equal(t, "CN=Fixture Root CA,O=certsight test", r["issuer"])
		assert.Equal(t, "0", r["ca"])
		assert.Len(t, r["sha256"], 64)
		assert.Len(t, wantRoutes, len(r), "every column present")
	})
	t.Run("path EQUALS a directory reads every file in it, key pairs matched", func(t *testing.T) {
		rows := generate(t, map[string][]op{"path": {{opEquals, f.certDir}}})
		assert.Equal(t, []string{"alice " + f.certDir, "bob " + f.certDir, "server " + f.certDir}, cnAndPath(rows),
			"the broken file is skipped, not fatal")
		for _, r := range rows {
			want := "0"
			if r["common_name"] == "alice" {
				want = "1"
			}
			assert.Equal(t, want, r["has_private_key"], r["common_name"])
		}
	})
	t.Run("path LIKE is read as a glob", func(t *testing.T) {
		rows := generate(t, map[string][]op{"path": {{opLike, filepath.Join(f.root, "%", "%.crt")}}})
		assert.Equal(t, []string{"alice " + f.alice, "bob " + f.bob, "server " + filepath.Join(f.certDir, "server.crt")}, cnAndPath(rows))
	})
	t.Run("several path values in one call (IN on an OPTIMIZED column)", func(t *testing.T) {
		rows := generate(t, map[string][]op{"path": {{opEquals, f.bob}, {opEquals, f.caDir}, {opEquals, f.bob}}})
		assert.Equal(t, []string{"Fixture Root CA " + f.caDir, "bob " + f.bob}, cnAndPath(rows))
	})
	t.Run("store restricts the readers", func(t *testing.T) {
		rows := generate(t, map[string][]op{"path": {{opEquals, f.certDir}}, "store": {{opEquals, "nssdb"}}})
		assert.Empty(t, rows)
		rows = generate(t, map[string][]op{"path": {{opEquals, f.bob}}, "store": {{opEquals, "pem"}}})
		assert.Len(t, rows, 1)
	})
	t.Run("an unreadable item is logged, the query succeeds", func(t *testing.T) {
		rows := generate(t, map[string][]op{"path": {{opEquals, f.broken}, {opEquals, f.bob}, {opEquals, filepath.Join(f.root, "missing.pem")}}})
		assert.Equal(t, []string{"bob " + f.bob}, cnAndPath(rows))
		require.Eventually(t, func() bool { return strings.Contains(p.stderr.String(), "missing.pem") }, 2*time.Second, 10*time.Millisecond)
		assert.Contains(t, p.stderr.String(), "skipped unreadable item")
	})
	t.Run("osquery before 3.0 sent op as a string", func(t *testing.T) {
		resp, err := ext.Call(ctx, "table", "client_certificates", gen.ExtensionPluginRequest{"action": "generate",
			"context": `{"constraints":[{"name":"path","list":[{"op":"2","expr":"` + f.bob + `"}],"affinity":"TEXT"},{"name":"sha1","list":"","affinity":"TEXT"}]}`})
		require.NoError(t, err)
		require.Equal(t, int32(0), resp.Status.Code, resp.Status.Message)
		assert.Len(t, resp.Response, 1)
	})
	t.Run("a malformed context is a failed call, not a crash", func(t *testing.T) {
		resp, err := ext.Call(ctx, "table", "client_certificates", gen.ExtensionPluginRequest{"action": "generate", "context": "{not json"})
		require.NoError(t, err)
		assert.Equal(t, int32(1), resp.Status.Code)
	})
	t.Run("an unknown table is refused", func(t *testing.T) {
		resp, err := ext.Call(ctx, "table", "certificates", gen.ExtensionPluginRequest{"action": "generate", "context": "{}"})
		require.NoError(t, err)
		assert.Equal(t, int32(1), resp.Status.Code)
	})

	// osquery pings the extension and finally asks it to shut down.
	st, err := ext.Ping(ctx)
	require.NoError(t, err)
	assert.Equal(t, int32(0), st.Code)
	require.NoError(t, ext.Shutdown(ctx))
	require.NoError(t, p.waitExit(t, 5*time.Second), "clean exit after shutdown")
	select {
	case uuid := <-m.deregistered:
		assert.Equal(t, gen.ExtensionRouteUUID(m.uuid), uuid)
	default:
		t.Error("extension did not deregister")
	}
}

func TestExtensionExitsWhenManagerVanishes(t *testing.T) {
	sock := socketPath(shortDir(t))
	m := startManager(t, sock)
	p := startExtension(t, sock)
	m.waitRegistered(t, 5*time.Second)
	extensionClient(t, sock, m.uuid) // serving

	gone := time.Now()
	m.vanish()
	require.NoError(t, p.waitExit(t, 8*time.Second), "clean exit when osquery goes away")
	// --interval 3: the next ping fails at most 3 s later.
	assert.Less(t, time.Since(gone), 6*time.Second)
	assert.Contains(t, p.stderr.String(), "went away")
}

func TestExtensionWaitsForTheSocket(t *testing.T) {
	sock := socketPath(shortDir(t))
	p := startExtension(t, sock)
	time.Sleep(300 * time.Millisecond) // osqueryd may start the extension before its socket exists
	m := startManager(t, sock)
	m.waitRegistered(t, 5*time.Second)
	extensionClient(t, sock, m.uuid) // registration answered, serving
	m.vanish()
	require.NoError(t, p.waitExit(t, 8*time.Second))
}

func TestExtensionGivesUpWithoutSocket(t *testing.T) {
	sock := socketPath(shortDir(t))
	cmd := exec.Command(extBin, "--socket", sock, "--timeout", "1", "--interval", "1")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "no manager: exit with an error")
	assert.Less(t, time.Since(start), 4*time.Second)
	assert.Contains(t, string(out), "osquery.em")
}

func TestUnknownFlagIsLoggedNotFatal(t *testing.T) {
	sock := socketPath(shortDir(t))
	m := startManager(t, sock)
	p := startExtension(t, sock, "--some_future_osquery_flag=1", "--logger_min_status", "1")
	m.waitRegistered(t, 5*time.Second)
	assert.Contains(t, p.stderr.String(), "some_future_osquery_flag")
	assert.Contains(t, p.stderr.String(), "unknown flag")
}

func TestOsqueryReadsNSSDatabase(t *testing.T) {
	needExtensionServer(t)
	f := newFixture(t)
	db := f.writeNSS(t)
	sock := socketPath(shortDir(t))
	m := startManager(t, sock)
	startExtension(t, sock)
	m.waitRegistered(t, 5*time.Second)
	ext := extensionClient(t, sock, m.uuid)

	for _, c := range []struct {
		name     string
		cons     map[string][]op
		wantPath string
	}{
		{"path EQUALS the database directory", map[string][]op{"path": {{opEquals, db}}}, db},
		{"path LIKE matching the directory, store = nssdb", map[string][]op{
			"path": {{opLike, filepath.Join(f.root, "%ssdb")}}, "store": {{opEquals, "nssdb"}}}, db},
		{"path EQUALS its cert9.db file", map[string][]op{"path": {{opEquals, filepath.Join(db, "cert9.db")}}},
			filepath.Join(db, "cert9.db")},
		{"path EQUALS sql:DIR, as NSS tools name it", map[string][]op{"path": {{opEquals, "sql:" + db}}}, "sql:" + db},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := ext.Call(context.Background(), "table", "client_certificates", gen.ExtensionPluginRequest{
				"action": "generate", "context": osqueryContext(t, columnNames(), c.cons)})
			require.NoError(t, err)
			require.Equal(t, int32(0), resp.Status.Code, resp.Status.Message)
			got := map[string]map[string]string{}
			for _, r := range resp.Response {
				got[r["label"]] = r
			}
			require.Len(t, got, 2, "%v", resp.Response)
			alice, ca := got["alice"], got["Fixture Root CA"]
			require.NotNil(t, alice)
			require.NotNil(t, ca)
			assert.Equal(t, "nssdb", alice["store"])
			assert.Equal(t, c.wantPath, alice["path"], "the path as the query named it, so SQLite keeps the row")
			assert.Equal(t, "1", alice["has_private_key"], "key decrypted and checked")
			assert.Equal(t, "matched", alice["private_key"])
			assert.Equal(t, "u,u,u", alice["trust"])
			assert.Equal(t, "clientAuth,emailProtection", alice["extended_key_usage"])
			assert.Equal(t, "CT,C,C", ca["trust"])
			assert.Equal(t, "1", ca["ca"])
		})
	}
}
