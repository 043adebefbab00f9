package packs_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/internal/testnss"
	"github.com/certsight/certsight/internal/testpki"
	"github.com/certsight/certsight/internal/testtool"
	"github.com/certsight/certsight/posture"
)

// The pack's queries read the platform's default stores, so they are run
// here through the real certsight.ext with --root: a fixture file system
// holds a system NSS database and a user's, and a posture config names its
// CA. Every query of certsight.conf must have an expectation below.

var (
	extOnce sync.Once
	extPath string
	extErr  error
)

// extBin returns $CERTSIGHT_BIN_DIR/certsight.ext, or a binary built once
// for this test run.
func extBin(t *testing.T) string {
	t.Helper()
	extOnce.Do(func() {
		tmp, err := os.MkdirTemp("", "certsight-packs")
		if err != nil {
			extErr = err
			return
		}
		// Left for the OS to clean: a sync.Once has no end of run; the
		// directory holds at most one binary.
		extPath, _, extErr = testtool.Binary("certsight.ext", tmp)
	})
	require.NoError(t, extErr)
	return extPath
}

// pki is the fixture: who issued what, and where it was written.
type pki struct {
	root, config     string
	systemDB, userDB string
	ca               *x509.Certificate
	caID             string
	// the certificates by common name
	certs map[string]*x509.Certificate
}

// buildPKI writes the fixture root: DIR/etc/passwd naming alice with home
// /home/alice, her NSS database (two client certificates with keys, one
// expiring in ten days, one keyless client certificate, the CA), the system
// database (one machine certificate with key), and a posture config outside
// the root with the CA and two rules over the user stores.
func buildPKI(t *testing.T) *pki {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	p := &pki{root: t.TempDir(), certs: map[string]*x509.Certificate{}}
	p.systemDB = filepath.Join(p.root, "etc", "pki", "nssdb")
	p.userDB = filepath.Join(p.root, "home", "alice", ".pki", "nssdb")
	require.NoError(t, os.MkdirAll(filepath.Join(p.root, "etc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(p.root, "etc", "passwd"), []byte(
		"root:x:0:0:root:/root:/bin/bash\n"+
			"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"+
			"alice:x:1000:1000:Alice:/home/alice:/bin/bash\n"), 0o644))

	caCert, err := testpki.Issue(nil, testpki.Options{
		Subject:   pkix.Name{CommonName: "Packs Test CA", Organization: []string{"certsight"}, Country: []string{"US"}},
		NotBefore: now.Add(-time.Hour),
		NotAfter:  now.AddDate(5, 0, 0),
		IsCA:      true,
		KeyUsage:  x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	})
	require.NoError(t, err)
	ca := caCert.Cert
	p.ca = ca
	p.caID = posture.DerivedID(ca)
	p.certs[ca.Subject.CommonName] = ca

	leafKeys := map[*x509.Certificate]crypto.Signer{}
	client := func(cn string, notAfter time.Time) *x509.Certificate {
		leaf, err := caCert.Issue(testpki.Options{
			Subject:   pkix.Name{CommonName: cn, Organization: []string{"certsight"}},
			NotBefore: now.Add(-time.Hour),
			NotAfter:  notAfter,
		})
		require.NoError(t, err)
		c := leaf.Cert
		p.certs[cn] = c
		leafKeys[c] = leaf.Key
		return c
	}
	alice := client("alice", now.AddDate(1, 0, 0))
	expiring := client("alice-expiring", now.Add(10*24*time.Hour))
	keyless := client("alice-nokey", now.AddDate(1, 0, 0))
	machine := client("machine.example", now.AddDate(1, 0, 0))

	ctx := context.Background()
	require.NoError(t, testnss.Create(ctx, p.userDB, []testnss.Cert{
		{Nickname: "Packs Test CA", DER: ca.Raw, Trust: "CT,C,C"},
		{Nickname: "alice", DER: alice.Raw, Trust: "u,u,u", WithKey: true, Key: leafKeys[alice]},
		{Nickname: "alice expiring", DER: expiring.Raw, Trust: "u,u,u", WithKey: true, Key: leafKeys[expiring]},
		{Nickname: "alice without key", DER: keyless.Raw, Trust: ",,"},
	}, testnss.Options{KeyMaterial: true}))
	require.NoError(t, testnss.Create(ctx, p.systemDB, []testnss.Cert{
		{Nickname: "machine", DER: machine.Raw, Trust: "u,u,u", WithKey: true, Key: leafKeys[machine]},
	}, testnss.Options{KeyMaterial: true}))

	yes := true
	rule := func(name, cn string) posture.Rule {
		return posture.Rule{Name: name, Type: posture.RuleType, Input: posture.RuleInput{
			CertificateID: p.caID, OperatingSystem: posture.CurrentOS(), CN: cn,
			ExtendedKeyUsage: []string{"clientAuth"}, CheckPrivateKey: &yes,
			Locations: posture.Locations{TrustStores: []string{"user"}},
		}}
	}
	cfg := posture.Config{
		MTLSCertificates: []posture.MTLSCertificate{{
			ID: p.caID, Name: "packs_test_ca", CA: true,
			Certificates: strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}))),
			UploadedOn:   "2026-01-02T03:04:05.000000Z",
		}},
		Rules: []posture.Rule{
			rule("alice user certificate", "alice"),
			rule("bob user certificate", "bob"),
			// The machine certificate is in the system store, which this rule does not search.
			rule("machine certificate in user stores", "machine.example"),
		},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	require.NoError(t, err)
	p.config = filepath.Join(t.TempDir(), "posture.json") // ours, not the image's
	require.NoError(t, os.WriteFile(p.config, b, 0o600))
	return p
}

// query runs sql through certsight.ext standalone over the fixture root.
func (p *pki) query(t *testing.T, sql string) []map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, extBin(t), "--root", p.root, "--config", p.config, "--json", "--query", sql)
	// The fixture alone decides: no config or root from the environment.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CERTSIGHT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "certsight.ext failed: %s", stderr.String())
	assert.Empty(t, stderr.String(), "warnings while running %q", sql)
	var rows []map[string]string
	require.NoError(t, json.Unmarshal(out, &rows), "output: %s", out)
	return rows
}

// sha256Of is the table's sha256 column of c.
func sha256Of(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

// serialOf is the table's serial column: uppercase hex of the magnitude.
func serialOf(c *x509.Certificate) string {
	return strings.ToUpper(hex.EncodeToString(c.SerialNumber.Bytes()))
}

// byCN indexes rows by common_name, failing on duplicates.
func byCN(t *testing.T, rows []map[string]string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, r := range rows {
		require.NotContains(t, out, r["common_name"], "duplicate row")
		out[r["common_name"]] = r
	}
	return out
}

func TestPackQueriesAgainstFixtureStores(t *testing.T) {
	if runtime.GOOS != "linux" {
		// The fixture is the Linux layout (passwd homes, NSS databases);
		// the NSS and --root parts are covered per OS in stores/.
		t.Skip("the fixture root is a Linux file system")
	}
	p := buildPKI(t)
	cs := p.certs
	unix := func(tm time.Time) string { return strconv.FormatInt(tm.Unix(), 10) }

	checks := map[string]func(t *testing.T, rows []map[string]string){
		"certsight_posture_status": func(t *testing.T, rows []map[string]string) {
			require.Len(t, rows, 3)
			got := map[string]map[string]string{}
			for _, r := range rows {
				got[r["rule"]] = r
				assert.Equal(t, p.caID, r["certificate_id"])
				assert.Equal(t, "linux", r["operating_system"])
			}
			pass := got["alice user certificate"]
			require.NotNil(t, pass)
			assert.Equal(t, "1", pass["passed"], "reason: %s", pass["reason"])
			assert.Empty(t, pass["reason"])
			assert.Equal(t, "alice", pass["expected_cn"])
			assert.Equal(t, sha256Of(cs["alice"]), pass["matched_sha256"])
			assert.Equal(t, p.userDB, pass["matched_path"])
			assert.Equal(t, "nssdb", pass["matched_store"])
			assert.Equal(t, "4", pass["candidates"], "the user database's four certificates")

			for _, name := range []string{"bob user certificate", "machine certificate in user stores"} {
				fail := got[name]
				require.NotNil(t, fail, name)
				assert.Equal(t, "0", fail["passed"], name)
				assert.NotEmpty(t, fail["reason"], name)
				assert.Empty(t, fail["matched_sha256"], name)
				assert.Equal(t, "4", fail["candidates"], name)
			}
			assert.Equal(t, "bob", got["bob user certificate"]["expected_cn"])
		},
		"certsight_client_certificate_inventory": func(t *testing.T, rows []map[string]string) {
			got := byCN(t, rows)
			type want struct {
				location, path, username, label, key, keyState, trust string
			}
			wants := map[string]want{
				"Packs Test CA":   {"user", p.userDB, "alice", "Packs Test CA", "0", "absent", "CT,C,C"},
				"alice":           {"user", p.userDB, "alice", "alice", "1", "matched", "u,u,u"},
				"alice-expiring":  {"user", p.userDB, "alice", "alice expiring", "1", "matched", "u,u,u"},
				"alice-nokey":     {"user", p.userDB, "alice", "alice without key", "0", "absent", ",,"},
				"machine.example": {"system", p.systemDB, "", "machine", "1", "matched", "u,u,u"},
			}
			require.ElementsMatch(t, keys(wants), keys(got))
			for cn, w := range wants {
				r, c := got[cn], cs[cn]
				assert.Equal(t, map[string]string{
					"store": "nssdb", "store_location": w.location, "path": w.path, "username": w.username,
					"label": w.label, "common_name": cn, "issuer": p.ca.Subject.String(), "serial": serialOf(c),
					"sha256": sha256Of(c), "not_valid_before": unix(c.NotBefore), "not_valid_after": unix(c.NotAfter),
					"extended_key_usage": map[bool]string{true: "", false: "clientAuth"}[c.IsCA],
					"has_private_key":    w.key, "private_key": w.keyState, "trust": w.trust,
					"subject_alt_names": strings.Join(cert.NewInfo(c).SubjectAltNames(), ","), "ms_sid": "", "template": "",
				}, r, cn)
			}
		},
		"certsight_certificates_expiring_30d": func(t *testing.T, rows []map[string]string) {
			require.Len(t, rows, 1)
			r, c := rows[0], cs["alice-expiring"]
			assert.Equal(t, "alice-expiring", r["common_name"])
			assert.Equal(t, sha256Of(c), r["sha256"])
			assert.Equal(t, "alice", r["username"])
			assert.Equal(t, p.userDB, r["path"])
			assert.Equal(t, unix(c.NotAfter), r["not_valid_after"])
			assert.Contains(t, []string{"9", "10"}, r["days_left"])
		},
		"certsight_client_certificates_without_key": func(t *testing.T, rows []map[string]string) {
			require.Len(t, rows, 1)
			r, c := rows[0], cs["alice-nokey"]
			assert.Equal(t, "alice-nokey", r["common_name"])
			assert.Equal(t, sha256Of(c), r["sha256"])
			assert.Equal(t, serialOf(c), r["serial"])
			assert.Equal(t, "user", r["store_location"])
			assert.Equal(t, "alice", r["username"])
			assert.Equal(t, "clientAuth", r["extended_key_usage"])
			assert.Equal(t, "absent", r["private_key"])
		},
		"certsight_mtls_client_health": func(t *testing.T, rows []map[string]string) {
			require.Len(t, rows, 2, "one row per issuer and key state")
			byKey := map[string]map[string]string{}
			for _, r := range rows {
				assert.Equal(t, p.ca.Subject.String(), r["issuer"])
				byKey[r["private_key"]] = r
			}
			m, a := byKey["matched"], byKey["absent"]
			require.NotNil(t, m)
			require.NotNil(t, a)
			assert.Equal(t, "3", m["certificates"], "alice, alice-expiring, machine")
			assert.Contains(t, []string{"9", "10"}, m["min_days_left"])
			assert.Equal(t, "0", m["expired"])
			assert.Equal(t, "1", m["expiring_30d"])
			assert.Equal(t, "1", a["certificates"], "alice-nokey")
			assert.Equal(t, "0", a["expiring_30d"])
		},
		"certsight_ca_registry": func(t *testing.T, rows []map[string]string) {
			require.Len(t, rows, 1)
			assert.Equal(t, map[string]string{
				"id": p.caID, "name": "packs_test_ca", "ca": "1", "issuer": p.ca.Issuer.String(),
				"signature": "ECDSAWithSHA256", "serial_number": p.ca.SerialNumber.String(),
				"expires_on": p.ca.NotAfter.UTC().Format(time.RFC3339), "uploaded_on": "2026-01-02T03:04:05.000000Z",
			}, rows[0])
		},
	}

	pack := loadPack(t)
	require.NotEmpty(t, pack.Queries)
	names := keys(pack.Queries)
	slices.Sort(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			check, ok := checks[name]
			require.True(t, ok, "pack query %s has no expectation in this test: add one", name)
			check(t, p.query(t, pack.Queries[name].Query))
		})
	}
	for name := range checks {
		assert.Contains(t, pack.Queries, name, "expectation for a query the pack no longer has")
	}

}

func keys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
