package extension_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gen "github.com/osquery/osquery-go/gen/osquery"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testposture"
	"github.com/certsight/certsight/posture/identity"
)

// The posture matrix runs here through the real binary, which asks the real
// device for its host name and serial number; the fixture asks the same
// identity, so the case using both variables expects what this machine can
// answer (a pass with a serial, "unavailable" without one).

var postureColumns = []string{"rule", "certificate_id", "operating_system", "passed", "reason", "expected_cn",
	"matched_sha256", "matched_path", "matched_store", "candidates", "ca_path", "cn", "eku", "check_private_key", "search_path"}

// standalone runs certsight.ext --json with args and returns the rows.
func standalone(t *testing.T, args ...string) []map[string]string {
	t.Helper()
	cmd := exec.Command(extBin, append([]string{"--json"}, args...)...)
	cmd.Env = append(os.Environ(), "CERTSIGHT_CONFIG=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stderr: %s", stderr.String())
	var rows []map[string]string
	if strings.TrimSpace(stdout.String()) == "" {
		return nil
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rows), stdout.String())
	return rows
}

func checkPostureCase(t *testing.T, c testposture.Case, r map[string]string) {
	t.Helper()
	t.Logf("passed=%q reason=%q", r["passed"], r["reason"])
	switch {
	case !c.WantEvaluated:
		assert.Empty(t, r["passed"], "passed is NULL for a rule not evaluated")
	case c.WantPassed:
		assert.Equal(t, "1", r["passed"], r["reason"])
	default:
		assert.Equal(t, "0", r["passed"])
	}
	if c.WantPassed {
		assert.Empty(t, r["reason"])
		assert.Equal(t, c.WantMatchedPath, r["matched_path"])
		assert.Len(t, r["matched_sha256"], 64)
		return
	}
	for _, w := range c.WantReason {
		assert.Contains(t, r["reason"], w)
	}
}

func TestPostureMatrixStandalone(t *testing.T) {
	f, cases := testposture.Build(t, identity.System())
	rows := standalone(t, "--config", f.ConfigFile, "--query", "SELECT * FROM cert_posture")
	require.Len(t, rows, len(cases))
	byRule := map[string]map[string]string{}
	for _, r := range rows {
		byRule[r["rule"]] = r
		assert.NotContains(t, r, "ca_path", "input columns are hidden from SELECT *")
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			r, ok := byRule[c.Name]
			require.True(t, ok)
			assert.Equal(t, f.CAID, r["certificate_id"])
			checkPostureCase(t, c, r)
		})
	}
}

func TestPostureInlineStandalone(t *testing.T) {
	_, cases := testposture.Build(t, identity.System())
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	n := 0
	for _, c := range cases {
		if c.Inline == nil {
			continue
		}
		n++
		t.Run(c.Name, func(t *testing.T) {
			in := c.Inline
			where := []string{"ca_path = " + quote(in.CAPath), "search_path = " + quote(in.SearchPath),
				"check_private_key = " + in.CheckPrivateKey}
			if in.CN != "" {
				where = append(where, "cn = "+quote(in.CN))
			}
			if in.EKU != "" {
				where = append(where, "eku = "+quote(in.EKU))
			}
			// No --config and no config at the default place needed.
			rows := standalone(t, "--config", filepath.Join(t.TempDir(), "none.json"),
				"--query", "SELECT * FROM cert_posture WHERE "+strings.Join(where, " AND "))
			require.Len(t, rows, 1)
			assert.Equal(t, "inline", rows[0]["rule"])
			checkPostureCase(t, c, rows[0])
		})
	}
	assert.GreaterOrEqual(t, n, 15)
}

func TestPostureBrokenConfigKeepsServing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "posture.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"rules": [{"name": "x", "typo": 1}]}`), 0o644))
	rows := standalone(t, "--config", path, "--query", "SELECT rule, passed, reason FROM cert_posture")
	require.Len(t, rows, 1)
	assert.Equal(t, "", rows[0]["rule"])
	assert.Equal(t, "0", rows[0]["passed"])
	assert.Contains(t, rows[0]["reason"], `rules[0].typo: unknown field`)
	// The other tables are unaffected.
	rows = standalone(t, "--config", path, "--query", "SELECT count(*) AS n FROM mtls_certificates")
	assert.Equal(t, []map[string]string{{"n": "1"}}, rows)

	rows = standalone(t, "--config", filepath.Join(dir, "missing.json"), "--query", "SELECT rule, passed, reason FROM cert_posture")
	require.Len(t, rows, 1)
	assert.Equal(t, "", rows[0]["passed"])
	assert.Contains(t, rows[0]["reason"], "no posture config at")
}

func TestAddCACommand(t *testing.T) {
	f, _ := testposture.Build(t, identity.Fixed("h", "s", nil))
	cfg := filepath.Join(t.TempDir(), "etc", "posture.json")
	cmd := exec.Command(extBin, "--add-ca", f.CAFile, "--name", "example_ca_cert", "--config", cfg)
	out, err := cmd.Output()
	require.NoError(t, err)
	var resp struct {
		Success bool `json:"success"`
		Result  struct {
			ID, Name, Issuer, Signature, Certificates, Type string
			CA                                              bool   `json:"ca"`
			SerialNumber                                    string `json:"serial_number"`
			ExpiresOn                                       string `json:"expires_on"`
			UploadedOn                                      string `json:"uploaded_on"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal(out, &resp), string(out))
	assert.True(t, resp.Success)
	r := resp.Result
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, r.ID)
	assert.Equal(t, "example_ca_cert", r.Name)
	assert.True(t, r.CA)
	assert.Equal(t, "CN=Posture Test CA,O=certsight tests,C=US", r.Issuer)
	assert.Equal(t, "ECDSAWithSHA256", r.Signature)
	assert.Equal(t, "custom", r.Type)
	_, err = time.Parse(time.RFC3339, r.ExpiresOn)
	assert.NoError(t, err)
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`, r.UploadedOn)
	assert.True(t, strings.HasPrefix(r.Certificates, "-----BEGIN CERTIFICATE-----\n"))

	rows := standalone(t, "--config", cfg, "--query", "SELECT id, name, serial_number, uploaded_on, reason FROM mtls_certificates")
	require.Len(t, rows, 1)
	assert.Equal(t, map[string]string{"id": r.ID, "name": r.Name, "serial_number": r.SerialNumber, "uploaded_on": r.UploadedOn, "reason": ""}, rows[0])

	// A leaf is refused, and the config is unchanged.
	before, err := os.ReadFile(cfg)
	require.NoError(t, err)
	cmd = exec.Command(extBin, "--add-ca", filepath.Join(f.Dir, "no-key.pem"), "--config", cfg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.Error(t, cmd.Run())
	assert.Contains(t, stderr.String(), "is not a CA")
	after, err := os.ReadFile(cfg)
	require.NoError(t, err)
	assert.Equal(t, before, after)
}

func TestPostureMatrixThroughOsquery(t *testing.T) {
	needExtensionServer(t)
	f, cases := testposture.Build(t, identity.System())
	sock := socketPath(shortDir(t))
	m := startManager(t, sock)
	p := startExtension(t, sock, "--config", f.ConfigFile)
	reg := m.waitRegistered(t, 5*time.Second)
	routes, ok := reg.Registry["table"]["cert_posture"]
	require.True(t, ok, "cert_posture registered; got %v", reg.Registry["table"])
	require.Len(t, routes, len(postureColumns))
	for i, name := range postureColumns {
		assert.Equal(t, name, routes[i]["name"])
	}
	_, ok = reg.Registry["table"]["mtls_certificates"]
	assert.True(t, ok, "mtls_certificates registered")

	ext := extensionClient(t, sock, m.uuid)
	ctx := context.Background()
	generate := func(t *testing.T, constraints map[string][]op) []map[string]string {
		t.Helper()
		resp, err := ext.Call(ctx, "table", "cert_posture", gen.ExtensionPluginRequest{
			"action": "generate", "context": osqueryContext(t, postureColumns, constraints)})
		require.NoError(t, err)
		require.Equal(t, int32(0), resp.Status.Code, resp.Status.Message)
		return resp.Response
	}

	rows := generate(t, nil)
	require.Len(t, rows, len(cases))
	byRule := map[string]map[string]string{}
	for _, r := range rows {
		byRule[r["rule"]] = r
	}
	for _, c := range cases {
		t.Run("config/"+c.Name, func(t *testing.T) {
			r, ok := byRule[c.Name]
			require.True(t, ok)
			checkPostureCase(t, c, r)
		})
	}
	for _, c := range cases {
		if c.Inline == nil {
			continue
		}
		t.Run("inline/"+c.Name, func(t *testing.T) {
			in := c.Inline
			cons := map[string][]op{"ca_path": {{opEquals, in.CAPath}}, "search_path": {{opEquals, in.SearchPath}},
				"check_private_key": {{opEquals, in.CheckPrivateKey}}}
			if in.CN != "" {
				cons["cn"] = []op{{opEquals, in.CN}}
			}
			if in.EKU != "" {
				cons["eku"] = []op{{opEquals, in.EKU}}
			}
			rows := generate(t, cons)
			require.Len(t, rows, 1)
			r := rows[0]
			// osquery re-filters on the input columns: they must echo.
			assert.Equal(t, in.CAPath, r["ca_path"])
			assert.Equal(t, in.SearchPath, r["search_path"])
			assert.Equal(t, in.CheckPrivateKey, r["check_private_key"])
			checkPostureCase(t, c, r)
		})
	}

	// The config is re-read when it changes, and a broken edit is reported.
	require.NoError(t, os.WriteFile(f.ConfigFile, []byte(`{"rules": [}`), 0o644))
	rows = generate(t, nil)
	require.Len(t, rows, 1)
	assert.Equal(t, "0", rows[0]["passed"])
	assert.Contains(t, rows[0]["reason"], fmt.Sprintf("config %s: invalid JSON", f.ConfigFile))
	st, err := ext.Ping(ctx)
	require.NoError(t, err)
	assert.Equal(t, int32(0), st.Code, "still serving")
	require.NoError(t, ext.Shutdown(ctx))
	require.NoError(t, p.waitExit(t, 3*time.Second))
}
