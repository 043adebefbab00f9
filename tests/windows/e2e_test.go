//go:build wine && linux

// End-to-end under Wine, driven from Linux: certificates are written into
// the Windows stores by crypt32 itself (tests/windows/storetool, Wine's
// crypt32 — an independent implementation of the store format), then
// certsight.exe lists them and every row is compared with crypt32's own
// listing and with what openssl prints for the same certificate.
//
// tests/windows/run.sh (make test-windows) runs this with -tags wine after
// the windows test suite, with WINE, WINEPREFIX and CERTSIGHT_BIN_DIR (the
// windows binaries) set. openssl runs on the Linux side: a Go program under
// Wine cannot wait for a Linux child.
package windows_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testtool"
)

// A second person and a service account, written as a loaded hive would hold
// them (HKEY_USERS\<SID>) with a ProfileList entry each.
const (
	bobSID    = "S-1-5-21-1111-2222-3333-1001"
	systemSID = "S-1-5-18"
	userMy    = `Software\Microsoft\SystemCertificates\My`
)

type env struct {
	wine, prefix, bin, openssl string
	login                      string // Wine's user: the Unix login
	dir                        string
}

func setup(t *testing.T) *env {
	t.Helper()
	e := &env{wine: os.Getenv("WINE"), prefix: os.Getenv("WINEPREFIX"), bin: os.Getenv("CERTSIGHT_BIN_DIR")}
	if e.wine == "" || e.prefix == "" || e.bin == "" {
		t.Fatal("run through tests/windows/run.sh (make test-windows): WINE, WINEPREFIX and CERTSIGHT_BIN_DIR are unset")
	}
	e.openssl = testtool.Need(t, "openssl")
	u, err := user.Current()
	require.NoError(t, err)
	e.login = u.Username
	e.dir = t.TempDir()
	return e
}

// winPath is the Windows name (drive Z: is /) of a Linux path.
func winPath(p string) string { return "Z:" + strings.ReplaceAll(p, "/", `\`) }

// run runs a windows program under Wine and returns its stdout.
func (e *env) run(t *testing.T, exe string, args ...string) string {
	t.Helper()
	cmd := exec.Command(e.wine, append([]string{filepath.Join(e.bin, exe)}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, err, "%s %q: %s", exe, args, stderr.String())
	return stdout.String()
}

func (e *env) storetool(t *testing.T, args ...string) string {
	t.Helper()
	return e.run(t, "storetool.exe", args...)
}

func (e *env) ssl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(e.openssl, args...).CombinedOutput()
	require.NoError(t, err, "openssl %q: %s", args, out)
	return string(out)
}

// cert is one test certificate made by openssl, and what openssl says of it.
type cert struct {
	der, pem, key, p12 string
	subject, serial    string // -nameopt RFC2253 without escaping UTF-8; uppercase hex
	sha1               string // lowercase hex
}

// newCert makes a certificate with openssl: self-signed when ca is nil. Keys
// are P-256 (fast to make) unless rsa, which PFXImportCertStore under Wine
// needs (its rsaenh imports RSA keys only).
func (e *env) newCert(t *testing.T, name, subject string, ca *cert, rsa bool) *cert {
	t.Helper()
	alg := []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"}
	if rsa {
		alg = []string{"-newkey", "rsa:2048"}
	}
	c := &cert{pem: filepath.Join(e.dir, name+".pem"), key: filepath.Join(e.dir, name+".key"),
		der: filepath.Join(e.dir, name+".der"), p12: filepath.Join(e.dir, name+".p12")}
	if ca == nil {
		e.ssl(t, append(append([]string{"req", "-x509", "-utf8"}, alg...), "-nodes", "-keyout", c.key, "-out", c.pem,
			"-subj", subject, "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE")...)
	} else {
		csr := filepath.Join(e.dir, name+".csr")
		e.ssl(t, append(append([]string{"req", "-new", "-utf8"}, alg...), "-nodes", "-keyout", c.key, "-out", csr, "-subj", subject)...)
		ext := filepath.Join(e.dir, name+".ext")
		require.NoError(t, os.WriteFile(ext, []byte("extendedKeyUsage=clientAuth\n"), 0o644))
		e.ssl(t, "x509", "-req", "-in", csr, "-CA", ca.pem, "-CAkey", ca.key, "-CAcreateserial", "-days", "30",
			"-extfile", ext, "-out", c.pem)
	}
	e.ssl(t, "x509", "-in", c.pem, "-outform", "DER", "-out", c.der)
	e.ssl(t, "pkcs12", "-export", "-in", c.pem, "-inkey", c.key, "-out", c.p12, "-passout", "pass:pw")
	c.subject = strings.TrimSpace(strings.TrimPrefix(e.ssl(t, "x509", "-in", c.pem, "-noout", "-subject", "-nameopt", "RFC2253,-esc_msb"), "subject="))
	c.serial = strings.TrimSpace(strings.TrimPrefix(e.ssl(t, "x509", "-in", c.pem, "-noout", "-serial"), "serial="))
	fp := strings.TrimSpace(e.ssl(t, "x509", "-in", c.pem, "-noout", "-fingerprint", "-sha1"))
	c.sha1 = strings.ToLower(strings.ReplaceAll(fp[strings.IndexByte(fp, '=')+1:], ":", ""))
	return c
}

// listed is one certificate as storetool (crypt32) lists it.
type listed struct {
	Store        string `json:"store"`
	SHA1         string `json:"sha1"`
	FriendlyName string `json:"friendly_name"`
	KeyContainer string `json:"key_container"`
	HasKeyLink   bool   `json:"has_key_link"`
	DER          string `json:"der"`
}

func (e *env) list(t *testing.T, key string) map[string]listed {
	t.Helper()
	out := map[string]listed{}
	for _, line := range strings.Split(strings.TrimSpace(e.storetool(t, "list", "-key", key)), "\n") {
		if line == "" {
			continue
		}
		var l listed
		require.NoError(t, json.Unmarshal([]byte(line), &l), line)
		out[l.SHA1] = l
	}
	return out
}

// row is a client_certificates row (every column, as text).
type row map[string]string

func (e *env) query(t *testing.T, exe string, args ...string) []row {
	t.Helper()
	var rows []row
	require.NoError(t, json.Unmarshal([]byte(e.run(t, exe, args...)), &rows))
	return rows
}

func bySHA1(rows []row) map[string][]row {
	out := map[string][]row{}
	for _, r := range rows {
		out[r["sha1"]] = append(out[r["sha1"]], r)
	}
	return out
}

// keyShown reports whether a row says the store holds or links a private key.
func keyShown(r row) bool {
	if pk, ok := r["private_key"]; ok {
		return pk != "" && pk != "absent" && pk != "none"
	}
	return r["has_private_key"] == "1"
}

func TestCrypt32StoresEndToEnd(t *testing.T) {
	e := setup(t)
	ca := e.newCert(t, "ca", "/CN=Wine Test CA/O=certsight tests", nil, false)
	alice := e.newCert(t, "alice", "/CN=Zoë Álvarez/O=certsight tests/C=ES", ca, false)
	machinePFX := e.newCert(t, "machine-pfx", "/CN=host.example/O=certsight tests", ca, true)
	machinePlain := e.newCert(t, "machine-plain", "/CN=plain.example/O=certsight tests", ca, false)
	profile := e.newCert(t, "profile", "/CN=Profile Folder Person/O=certsight tests", ca, false)
	bob := e.newCert(t, "bob", "/CN=bob/O=certsight tests", ca, false)
	service := e.newCert(t, "service", "/CN=LocalSystem service/O=certsight tests", ca, false)

	const aliceName = "Zoë – 証明書 ✓"
	e.storetool(t, "add", "-store", "user", "-cert", winPath(alice.der), "-name", aliceName, "-container", "alice-key")
	e.storetool(t, "pfx", "-store", "machine", "-pfx", winPath(machinePFX.p12), "-password", "pw")
	e.storetool(t, "add", "-store", "machine", "-cert", winPath(machinePlain.der))

	// The profile-folder form Windows 10/11 uses for most personal
	// certificates: %APPDATA%\Microsoft\SystemCertificates\My\Certificates\<SHA1>,
	// the element serialized by crypt32.
	profileDir := filepath.Join(e.prefix, "drive_c", "users", e.login, "AppData", "Roaming", "Microsoft", "SystemCertificates", "My", "Certificates")
	require.NoError(t, os.RemoveAll(profileDir)) // a prefix used before
	require.NoError(t, os.MkdirAll(profileDir, 0o755))
	profileFile := filepath.Join(profileDir, strings.ToUpper(profile.sha1))
	e.storetool(t, "element", "-cert", winPath(profile.der), "-name", "Profile Zoë", "-out", winPath(profileFile))

	// A second person (hive loaded under HKEY_USERS\<SID>, profile listed)
	// and LocalSystem, whose store must be skipped.
	e.storetool(t, "reg", "-key", `HKEY_USERS\`+bobSID+`\`+userMy, "-cert", winPath(bob.der), "-name", "bob's")
	e.storetool(t, "reg", "-key", `HKEY_USERS\`+systemSID+`\`+userMy, "-cert", winPath(service.der))
	e.storetool(t, "profile", "-sid", bobSID, "-path", `%SystemDrive%\users\bob`)
	e.storetool(t, "profile", "-sid", systemSID, "-path", `%systemroot%\system32\config\systemprofile`)

	// crypt32's own view of each physical store.
	cu := e.list(t, `HKEY_CURRENT_USER\`+userMy)
	lm := e.list(t, `HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\SystemCertificates\My`)
	hb := e.list(t, `HKEY_USERS\`+bobSID+`\`+userMy)
	require.Contains(t, cu, alice.sha1)
	require.Contains(t, lm, machinePFX.sha1)
	require.Contains(t, lm, machinePlain.sha1)
	require.Contains(t, hb, bob.sha1)
	assert.Equal(t, aliceName, cu[alice.sha1].FriendlyName, "crypt32 keeps the friendly name")
	assert.True(t, cu[alice.sha1].HasKeyLink)
	assert.True(t, lm[machinePFX.sha1].HasKeyLink, "PFXImportCertStore links the imported key")
	assert.False(t, lm[machinePlain.sha1].HasKeyLink)

	rows := e.query(t, "certsight.ext.exe", "--json", "--query", "SELECT * FROM client_certificates WHERE store = 'winstore'")
	got := bySHA1(rows)
	t.Logf("certsight.exe: %d rows", len(rows))

	userKey := `HKEY_USERS\S-1-5-21-0-0-0-1000\` + userMy + `\Certificates\`
	machineKey := `HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\SystemCertificates\My\Certificates\`
	type want struct {
		c                  *cert
		crypt32            listed
		location, username string
		path               string
	}
	wants := []want{
		{alice, cu[alice.sha1], "user", e.login, userKey + strings.ToUpper(alice.sha1)},
		{machinePFX, lm[machinePFX.sha1], "system", "", machineKey + strings.ToUpper(machinePFX.sha1)},
		{machinePlain, lm[machinePlain.sha1], "system", "", machineKey + strings.ToUpper(machinePlain.sha1)},
		{profile, listed{FriendlyName: "Profile Zoë"}, "user", e.login,
			`C:\users\` + e.login + `\AppData\Roaming\Microsoft\SystemCertificates\My\Certificates\` + strings.ToUpper(profile.sha1)},
		{bob, hb[bob.sha1], "user", "bob", `HKEY_USERS\` + bobSID + `\` + userMy + `\Certificates\` + strings.ToUpper(bob.sha1)},
	}
	for _, w := range wants {
		t.Run(w.c.subject, func(t *testing.T) {
			rs := got[w.c.sha1]
			require.Len(t, rs, 1, "one row for %s", w.c.subject)
			r := rs[0]
			assert.Equal(t, w.location, r["store_location"])
			assert.Equal(t, w.username, r["username"])
			assert.Equal(t, w.path, r["path"])
			assert.Equal(t, w.crypt32.FriendlyName, r["label"], "label is crypt32's friendly name")
			assert.Equal(t, w.c.subject, r["subject"], "subject as openssl -nameopt RFC2253 prints it")
			assert.Equal(t, w.c.serial, r["serial"], "serial as openssl prints it")
			assert.Equal(t, w.c.sha1, r["sha1"], "SHA-1 as openssl prints it")
			if w.crypt32.DER != "" {
				der, err := base64.StdEncoding.DecodeString(w.crypt32.DER)
				require.NoError(t, err)
				file, err := os.ReadFile(w.c.der)
				require.NoError(t, err)
				assert.Equal(t, file, der, "crypt32 holds openssl's DER")
				assert.Equal(t, w.crypt32.SHA1, r["sha1"], "SHA-1 as crypt32 computes it")
			}
			assert.Equal(t, w.crypt32.HasKeyLink, keyShown(r), "key presence as crypt32 links it (row %v)", r)
		})
	}
	assert.NotContains(t, got, service.sha1, "LocalSystem's store is no person's and is skipped")
	assert.NotContains(t, got, ca.sha1)

	// Windows users write paths with either slash.
	for _, q := range []string{
		`SELECT sha1 FROM client_certificates WHERE path LIKE 'C:/users/%/AppData/Roaming/Microsoft/SystemCertificates/My/Certificates'`,
		`SELECT sha1 FROM client_certificates WHERE path = 'C:\users\` + e.login + `\AppData\Roaming\Microsoft\SystemCertificates\My\Certificates'`,
		`SELECT sha1 FROM client_certificates WHERE path IN ('C:/users/` + e.login + `/AppData/Roaming/Microsoft/SystemCertificates/My/Certificates', 'C:/nowhere')`,
	} {
		rs := e.query(t, "certsight.ext.exe", "--json", "--query", q)
		require.Len(t, rs, 1, q)
		assert.Equal(t, profile.sha1, rs[0]["sha1"], q)
	}
	rs := e.query(t, "certsight.ext.exe", "--json", "--query",
		`SELECT sha1 FROM client_certificates WHERE path = 'HKLM\SOFTWARE\Microsoft\SystemCertificates\My\Certificates' ORDER BY sha1`)
	var shas, crypt32 []string
	for _, r := range rs {
		shas = append(shas, r["sha1"])
	}
	for sha := range lm {
		crypt32 = append(crypt32, sha)
	}
	assert.ElementsMatch(t, crypt32, shas, "the machine store, row for row as crypt32 lists it")

	t.Run("root over a mounted Windows image", func(t *testing.T) {
		img := filepath.Join(e.dir, "image")
		carol := filepath.Join(img, "Users", "carol", "AppData", "Roaming", "Microsoft", "SystemCertificates", "My", "Certificates")
		public := filepath.Join(img, "Users", "Public", "AppData", "Roaming", "Microsoft", "SystemCertificates", "My", "Certificates")
		require.NoError(t, os.MkdirAll(carol, 0o755))
		require.NoError(t, os.MkdirAll(public, 0o755))
		e.storetool(t, "element", "-cert", winPath(bob.der), "-name", "carol's", "-out", winPath(filepath.Join(carol, strings.ToUpper(bob.sha1))))
		e.storetool(t, "element", "-cert", winPath(service.der), "-out", winPath(filepath.Join(public, strings.ToUpper(service.sha1))))
		q := "SELECT * FROM client_certificates WHERE store = 'winstore'"
		rows := e.query(t, "certsight.ext.exe", "--root", winPath(img), "--json", "--query", q)
		require.Len(t, rows, 1, "only carol's profile; Public is no person's")
		r := rows[0]
		assert.Equal(t, bob.sha1, r["sha1"])
		assert.Equal(t, "carol", r["username"])
		assert.Equal(t, "user", r["store_location"])
		assert.Equal(t, "carol's", r["label"])
		assert.Equal(t, winPath(carol)+`\`+strings.ToUpper(bob.sha1), r["path"])

		// The Linux build takes a root's layout to be Linux's, so there the
		// image's profile folders are read by path. run.sh builds it into
		// CERTSIGHT_LINUX_BIN_DIR.
		linuxBin := filepath.Join(os.Getenv("CERTSIGHT_LINUX_BIN_DIR"), "certsight.ext")
		if os.Getenv("CERTSIGHT_LINUX_BIN_DIR") == "" {
			linuxBin = filepath.Join(e.dir, "certsight.ext")
			build := exec.Command("go", "build", "-o", linuxBin, "github.com/certsight/certsight/cmd/certsight.ext")
			build.Env = append(os.Environ(), "GOOS=linux")
			out, err := build.CombinedOutput()
			require.NoError(t, err, "%s", out)
		}
		out, err := exec.Command(linuxBin, "--json", "--query", "SELECT sha1, label, path FROM client_certificates WHERE path LIKE '"+
			img+"/Users/%/AppData/Roaming/Microsoft/SystemCertificates/My/Certificates'").Output()
		require.NoError(t, err)
		var lrows []row
		require.NoError(t, json.Unmarshal(out, &lrows))
		require.Len(t, lrows, 2, "carol's and Public's folders, read by path")
		labels := map[string]string{}
		for _, r := range lrows {
			labels[r["sha1"]] = r["label"]
		}
		assert.Equal(t, map[string]string{bob.sha1: "carol's", service.sha1: ""}, labels)
	})
}

// TestPostureOnWindows: cert_posture in certsight.exe over crypt32-written
// stores, with ${serial_number} (GetSystemFirmwareTable('RSMB'), from the
// fake DMI tree run.sh mounts; CERTSIGHT_TEST_SERIAL says what it holds)
// and ${hostname}, a registry key path as a rule location, and --add-ca
// writing a new config.
func TestPostureOnWindows(t *testing.T) {
	e := setup(t)
	serial := os.Getenv("CERTSIGHT_TEST_SERIAL")
	if serial == "" {
		t.Fatal("CERTSIGHT_TEST_SERIAL is unset: run.sh could not mount a fake DMI tree (unshare)")
	}
	host, err := os.Hostname()
	require.NoError(t, err)
	ca := e.newCert(t, "posture-ca", "/CN=Posture Wine CA/O=certsight tests", nil, false)
	bySerial := e.newCert(t, "by-serial", "/CN="+serial+"/O=certsight tests", ca, false)
	byHost := e.newCert(t, "by-host", "/CN="+host+"/O=certsight tests", ca, false)
	e.storetool(t, "add", "-store", "machine", "-cert", winPath(bySerial.der))
	e.storetool(t, "add", "-store", "user", "-cert", winPath(byHost.der), "-name", "host cert")

	cfg := filepath.Join(e.dir, "posture.json")
	var added struct {
		Success bool `json:"success"`
		Result  struct {
			ID string `json:"id"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(e.run(t, "certsight.ext.exe", "--add-ca", winPath(ca.pem), "--name", "wine_ca", "--config", winPath(cfg))), &added))
	require.True(t, added.Success)
	var doc map[string]json.RawMessage
	data, err := os.ReadFile(cfg)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &doc))
	assert.Equal(t, "[]", string(doc["rules"]), "--add-ca writes an empty rules list")

	rule := func(name, cn string, locations string) string {
		return `{"name": "` + name + `", "type": "client_certificate_v2", "input": {"certificate_id": "` + added.Result.ID +
			`", "check_private_key": false, "cn": "` + cn + `", "locations": ` + locations + `}}`
	}
	machine := `{"paths": ["HKLM\\SOFTWARE\\Microsoft\\SystemCertificates\\My\\Certificates"]}`
	user := `{"trust_stores": ["user"]}`
	doc["rules"] = json.RawMessage(`[` + strings.Join([]string{
		rule("serial in the machine store", "${serial_number}", machine),
		rule("hostname in a user store", "${hostname}", user),
		rule("serial not in a user store", "${serial_number}", user),
		rule("hostname not in the machine store", "${hostname}", machine),
	}, ",") + `]`)
	data, err = json.Marshal(doc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfg, data, 0o644))

	rows := e.query(t, "certsight.ext.exe", "--config", winPath(cfg), "--json", "--query",
		"SELECT rule, passed, reason, matched_path FROM cert_posture")
	got := map[string]row{}
	for _, r := range rows {
		got[r["rule"]] = r
	}
	want := map[string]string{
		"serial in the machine store":       "1",
		"hostname in a user store":          "1",
		"serial not in a user store":        "0",
		"hostname not in the machine store": "0",
	}
	for name, passed := range want {
		require.Contains(t, got, name)
		assert.Equal(t, passed, got[name]["passed"], "%s: %s", name, got[name]["reason"])
	}
	assert.Equal(t, `HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\SystemCertificates\My\Certificates\`+strings.ToUpper(bySerial.sha1),
		strings.Replace(got["serial in the machine store"]["matched_path"], `HKLM\`, `HKEY_LOCAL_MACHINE\`, 1))
}
