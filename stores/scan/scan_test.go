package scan

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testkeychain"
	"github.com/certsight/certsight/stores"
	"github.com/certsight/certsight/stores/nssdb"
)

// pemFixture returns a file of the pemfile package's openssl-made fixtures.
func pemFixture(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "pemfile", "testdata", filepath.FromSlash(rel)))
	require.NoError(t, err)
	return data
}

func derOf(t *testing.T, pemRel string) []byte {
	t.Helper()
	data := pemFixture(t, pemRel)
	c, err := x509.ParseCertificate(data)
	require.NoError(t, err)
	return c.Raw
}

// tree writes files (name → content) under a fresh directory.
func tree(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, data, 0o644))
	}
	return dir
}

// row is an entry reduced to what dispatch decides.
type row struct {
	kind stores.Kind
	cn   string
	file string // base name of Entry.Path
	key  stores.KeyMatch
}

func rows(t *testing.T, es []stores.Entry) []row {
	var out []row
	for _, e := range es {
		assert.Equal(t, stores.LocationPath, e.Location, "location of %s", e.Path)
		out = append(out, row{e.Store, e.Info.CommonName, filepath.Base(e.Path), e.Key})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].file != out[j].file {
			return out[i].file < out[j].file
		}
		return out[i].cn < out[j].cn
	})
	return out
}

// mixedTree holds one of each kind of file, each under a misleading name.
func mixedTree(t *testing.T) string {
	t.Helper()
	kc := testkeychain.Keychain{Certs: []testkeychain.Cert{{DER: derOf(t, "client1.der"), PrintName: "Keychain Client"}}}.Bytes()
	longText := append(bytes.Repeat([]byte("Certificate:\n    Data: ...\n"), 100), pemFixture(t, "bundle.pem")...)
	return tree(t, map[string][]byte{
		"certs.db":     pemFixture(t, "combined.pem"), // PEM named like a database
		"login.pem":    kc,                            // a keychain named like PEM
		"client.cer":   pemFixture(t, "client1.der"),  // DER
		"notes.txt":    []byte("not a certificate\n"),
		"text.crt":     longText, // PEM after a long preamble
		"sub/deep.pem": pemFixture(t, "ca.pem"),
	})
}

func TestPathsDispatchByContent(t *testing.T) {
	dir := mixedTree(t)
	in := func(name string) string { return filepath.Join(dir, name) }
	tests := []struct {
		name    string
		paths   []string
		kinds   []stores.Kind
		want    []row
		wantErr []error
	}{
		{name: "a PEM file named .db is read as PEM", paths: []string{in("certs.db")},
			want: []row{{stores.KindPEM, "client1", "certs.db", stores.KeyMatched}}},
		{name: "a keychain named .pem is read as a keychain", paths: []string{in("login.pem")},
			want: []row{{stores.KindKeychain, "client1", "login.pem", stores.KeyAbsent}}},
		{name: "a DER file named .cer is read as PEM/DER", paths: []string{in("client.cer")},
			want: []row{{stores.KindPEM, "client1", "client.cer", stores.KeyAbsent}}},
		{name: "a named file with PEM after a long preamble is read", paths: []string{in("text.crt")},
			want: []row{{stores.KindPEM, "Fixture CA", "text.crt", stores.KeyAbsent}, {stores.KindPEM, "client2", "text.crt", stores.KeyAbsent}}},
		{name: "a directory reads each file by content, not recursively, skipping others silently", paths: []string{dir},
			want: []row{
				{stores.KindPEM, "client1", "certs.db", stores.KeyMatched},
				// client.cer is client1 too: its key is in certs.db, read in the same set.
				{stores.KindPEM, "client1", "client.cer", stores.KeyMatched},
				{stores.KindKeychain, "client1", "login.pem", stores.KeyAbsent},
			}},
		{name: "a glob is expanded and each match read by content", paths: []string{in("*.pem"), in("c*")},
			want: []row{
				{stores.KindPEM, "client1", "certs.db", stores.KeyMatched},
				{stores.KindPEM, "client1", "client.cer", stores.KeyMatched},
				{stores.KindKeychain, "client1", "login.pem", stores.KeyAbsent},
			}},
		{name: "a glob matching nothing is empty, not an error", paths: []string{in("*.p12")}},
		{name: "the kind filter runs only the keychain reader", paths: []string{dir}, kinds: []stores.Kind{stores.KindKeychain},
			want: []row{{stores.KindKeychain, "client1", "login.pem", stores.KeyAbsent}}},
		{name: "the kind filter runs only the PEM reader", paths: []string{dir}, kinds: []stores.Kind{stores.KindPEM},
			want: []row{{stores.KindPEM, "client1", "certs.db", stores.KeyMatched}, {stores.KindPEM, "client1", "client.cer", stores.KeyMatched}}},
		{name: "a filtered-out kind named explicitly is not an error", paths: []string{in("login.pem")}, kinds: []stores.Kind{stores.KindPEM}},
		{name: "a path given twice, or through another spelling, is read once",
			paths: []string{in("certs.db"), in("certs.db"), dir + "/./certs.db"},
			want:  []row{{stores.KindPEM, "client1", "certs.db", stores.KeyMatched}}},
		{name: "a missing path is an item error", paths: []string{in("missing.pem"), in("certs.db")},
			want:    []row{{stores.KindPEM, "client1", "certs.db", stores.KeyMatched}},
			wantErr: []error{fs.ErrNotExist}},
		{name: "a named file of unknown content is an item error", paths: []string{in("notes.txt")},
			wantErr: []error{ErrUnrecognised}},
		{name: "a malformed glob is an item error", paths: []string{in("[")},
			wantErr: []error{filepath.ErrBadPattern}},
		{name: "an empty path is ignored", paths: []string{""}},
	}
	s := New(nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := stores.Collect(s.Paths(context.Background(), tt.paths, tt.kinds...))
			assert.Equal(t, tt.want, rows(t, res.Entries))
			require.Len(t, res.Errors, len(tt.wantErr), "errors: %v", res.Errors)
			for i, w := range tt.wantErr {
				assert.ErrorIs(t, res.Errors[i], w)
				var ie *stores.ItemError
				assert.ErrorAs(t, res.Errors[i], &ie)
			}
		})
	}
}

func TestPathsPairsCertAndKeyNamedApart(t *testing.T) {
	dir := tree(t, map[string][]byte{
		"client.pem":     pemFixture(t, "pair/client.pem"),
		"client_key.pem": pemFixture(t, "pair/client_key.pem"),
	})
	res := stores.Collect(New(nil).Paths(context.Background(), []string{filepath.Join(dir, "client.pem"), filepath.Join(dir, "client_key.pem")}))
	require.Empty(t, res.Errors)
	require.Len(t, res.Entries, 1)
	assert.Equal(t, stores.KeyMatched, res.Entries[0].Key)
	assert.Equal(t, filepath.Join(dir, "client_key.pem"), res.Entries[0].KeyPath)
}

func TestPathsHonoursContext(t *testing.T) {
	dir := mixedTree(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := stores.Collect(New(nil).Paths(ctx, []string{dir}))
	assert.Empty(t, res.Entries)
	require.NotEmpty(t, res.Errors)
	assert.True(t, slices.ContainsFunc(res.Errors, func(err error) bool { return errors.Is(err, context.Canceled) }))
}

func TestPathsNeverPanics(t *testing.T) {
	dir := mixedTree(t)
	if err := os.Symlink("loop", filepath.Join(dir, "loop")); err != nil {
		t.Logf("no symlink loop in this run: %v", err) // Windows without the privilege
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "empty"), nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kych"), []byte("kych"), 0o644))       // truncated keychain
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cert9.db"), []byte("x"), 0o644))      // not SQLite
	require.NoError(t, os.WriteFile(filepath.Join(dir, "der"), []byte{0x30, 0x82, 1}, 0o644)) // truncated DER
	paths := []string{dir, "/", "/dev/null", filepath.Join(dir, "loop"), filepath.Join(dir, "empty"),
		filepath.Join(dir, "kych"), filepath.Join(dir, "cert9.db"), filepath.Join(dir, "der"),
		filepath.Join(dir, "*", "*"), "\x00", strings.Repeat("a/", 3000)}
	assert.NotPanics(t, func() {
		res := stores.Collect(New(nil).Paths(context.Background(), paths))
		for _, e := range res.Errors {
			assert.NotEmpty(t, e.Error())
		}
	})
}

// fakeReader records what it was asked to read.
type fakeReader struct {
	kind     stores.Kind
	defaults []stores.Source
	read     []stores.Source
}

func (f *fakeReader) Kind() stores.Kind                        { return f.kind }
func (f *fakeReader) Defaults(context.Context) []stores.Source { return f.defaults }
func (f *fakeReader) Read(_ context.Context, src stores.Source) stores.Seq {
	return func(yield func(stores.Entry, error) bool) {
		f.read = append(f.read, src)
		yield(stores.Entry{Store: f.kind, Location: src.Location, Path: src.Path}, nil)
	}
}

func TestDefaults(t *testing.T) {
	mk := func() (*Scanner, *fakeReader, *fakeReader) {
		a := &fakeReader{kind: stores.KindNSSDB, defaults: []stores.Source{
			{Path: "/etc/pki/nssdb", Location: stores.LocationSystem},
			{Path: "/home/alice/.pki/nssdb", Location: stores.LocationUser, Username: "alice"},
		}}
		b := &fakeReader{kind: stores.KindKeychain, defaults: []stores.Source{
			{Path: "/Library/Keychains/System.keychain", Location: stores.LocationSystem},
		}}
		return &Scanner{log: New(nil).log, readers: []stores.Reader{a, b}}, a, b
	}
	paths := func(res stores.Result) []string {
		var out []string
		for _, e := range res.Entries {
			out = append(out, e.Path)
		}
		return out
	}

	s, _, _ := mk()
	assert.Equal(t, []string{"/etc/pki/nssdb", "/home/alice/.pki/nssdb", "/Library/Keychains/System.keychain"},
		paths(stores.Collect(s.Defaults(context.Background()))))

	s, _, b := mk()
	assert.Equal(t, []string{"/etc/pki/nssdb", "/home/alice/.pki/nssdb"}, paths(stores.Collect(s.Defaults(context.Background(), stores.KindNSSDB))))
	assert.Empty(t, b.read, "a filtered-out reader is not run")

	s, a, _ := mk()
	assert.Equal(t, []string{"/home/alice/.pki/nssdb"}, paths(stores.Collect(s.DefaultsAt(context.Background(), stores.LocationUser))))
	require.Len(t, a.read, 1)
	assert.Equal(t, "alice", a.read[0].Username, "the source's owner is passed on")

	s, _, _ = mk()
	assert.Equal(t, []string{"/etc/pki/nssdb", "/Library/Keychains/System.keychain"},
		paths(stores.Collect(s.DefaultsAt(context.Background(), stores.LocationSystem))))

	s, _, _ = mk()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := stores.Collect(s.Defaults(ctx))
	assert.Empty(t, res.Entries)
	require.Len(t, res.Errors, 1)
	assert.ErrorIs(t, res.Errors[0], context.Canceled)
}

func TestNewHasEveryBuiltReader(t *testing.T) {
	s := New(nil)
	var kinds []stores.Kind
	for _, r := range s.readers {
		kinds = append(kinds, r.Kind())
	}
	assert.ElementsMatch(t, []stores.Kind{stores.KindPEM, stores.KindKeychain, stores.KindNSSDB, stores.KindWinstore}, kinds)
	// Defaults on this machine never panics and honours the filter.
	res := stores.Collect(s.Defaults(context.Background(), stores.KindPEM))
	assert.Empty(t, res.Entries, "pemfile has no default stores")
}

// element writes a Windows serialized store element: the SHA-1 property,
// a friendly name, and the certificate property last, as Windows does.
func element(der []byte, friendly string) []byte {
	prop := func(id uint32, v []byte) []byte {
		b := binary.LittleEndian.AppendUint32(nil, id)
		b = binary.LittleEndian.AppendUint32(b, 1)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
		return append(b, v...)
	}
	sum := sha1.Sum(der)
	var name []byte
	for _, r := range friendly + "\x00" {
		name = binary.LittleEndian.AppendUint16(name, uint16(r))
	}
	return slices.Concat(prop(3, sum[:]), prop(11, name), prop(32, der))
}

func nssFixture(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join("..", "nssdb", "testdata", name)
	_, err := os.Stat(p)
	require.NoError(t, err, "the nssdb package's committed fixture")
	return p
}

func TestPathsDispatchNSSAndWindows(t *testing.T) {
	basic := nssFixture(t, "basic")
	cert9, err := os.ReadFile(filepath.Join(basic, "cert9.db"))
	require.NoError(t, err)
	dir := tree(t, map[string][]byte{
		"element.pem":    element(derOf(t, "client1.der"), "Windows Client"), // a store element named like PEM
		"certs.db":       pemFixture(t, "combined.pem"),                      // PEM named like a database
		"renamed.db":     cert9,                                              // an NSS database file under another name
		"pem/cert9.db":   pemFixture(t, "ca.pem"),                            // PEM named cert9.db
		"empty/cert9.db": nil,                                                // an empty database file
	})
	in := func(name string) string { return filepath.Join(dir, filepath.FromSlash(name)) }
	const nssCerts = 15 // certutil -L of the fixture (../nssdb/testdata/basic.L.txt)

	count := func(es []stores.Entry) map[stores.Kind]int {
		m := map[stores.Kind]int{}
		for _, e := range es {
			m[e.Store]++
		}
		return m
	}
	tests := []struct {
		name    string
		paths   []string
		kinds   []stores.Kind
		want    map[stores.Kind]int
		wantErr []error
	}{
		{name: "an NSS database directory is read as one", paths: []string{basic},
			want: map[stores.Kind]int{stores.KindNSSDB: nssCerts}},
		{name: "a cert9.db file is read as its directory", paths: []string{filepath.Join(basic, "cert9.db")},
			want: map[stores.Kind]int{stores.KindNSSDB: nssCerts}},
		{name: "the sql: prefix of NSS tools is understood", paths: []string{"sql:" + basic},
			want: map[stores.Kind]int{stores.KindNSSDB: nssCerts}},
		{name: "the directory, its cert9.db and sql: prefix are one database", paths: []string{basic, filepath.Join(basic, "cert9.db"), "sql:" + basic},
			want: map[stores.Kind]int{stores.KindNSSDB: nssCerts}},
		{name: "a legacy DBM directory goes to nssdb, which refuses it", paths: []string{nssFixture(t, "legacy")},
			want: map[stores.Kind]int{}, wantErr: []error{nssdb.ErrLegacyDBM}},
		{name: "the dbm: prefix asks for the legacy format, which nssdb refuses as certutil would", paths: []string{"dbm:" + basic},
			want: map[stores.Kind]int{}, wantErr: []error{nssdb.ErrLegacyDBM}},
		{name: "dbm: and sql: of one directory are two questions", paths: []string{"dbm:" + basic, "sql:" + basic},
			want: map[stores.Kind]int{stores.KindNSSDB: nssCerts}, wantErr: []error{nssdb.ErrLegacyDBM}},
		{name: "a store element named .pem is read as a store element", paths: []string{in("element.pem")},
			want: map[stores.Kind]int{stores.KindWinstore: 1}},
		{name: "a PEM file named cert9.db is PEM, and its directory a directory of files", paths: []string{in("pem/cert9.db"), in("pem")},
			want: map[stores.Kind]int{stores.KindPEM: 1}},
		{name: "an empty cert9.db in a named directory is an NSS error, not zero rows in silence", paths: []string{in("empty")},
			want: map[stores.Kind]int{}, wantErr: []error{nil}},
		{name: "an NSS database file under another name is not guessed", paths: []string{in("renamed.db")},
			want: map[stores.Kind]int{}, wantErr: []error{ErrUnrecognised}},
		{name: "a directory of mixed stores reads each by content", paths: []string{dir},
			want: map[stores.Kind]int{stores.KindWinstore: 1, stores.KindPEM: 1}},
		{name: "the kind filter keeps NSS out", paths: []string{basic, in("certs.db")}, kinds: []stores.Kind{stores.KindPEM, stores.KindWinstore},
			want: map[stores.Kind]int{stores.KindPEM: 1}},
		{name: "the kind filter keeps only NSS", paths: []string{basic, dir}, kinds: []stores.Kind{stores.KindNSSDB},
			want: map[stores.Kind]int{stores.KindNSSDB: nssCerts}},
	}
	s := New(nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := stores.Collect(s.Paths(context.Background(), tt.paths, tt.kinds...))
			assert.Equal(t, tt.want, count(res.Entries))
			require.Len(t, res.Errors, len(tt.wantErr), "errors: %v", res.Errors)
			for i, w := range tt.wantErr {
				if w == nil {
					assert.ErrorContains(t, res.Errors[i], "empty")
					continue
				}
				assert.ErrorIs(t, res.Errors[i], w)
			}
			for _, e := range res.Entries {
				assert.Equal(t, stores.LocationPath, e.Location)
				if e.Store == stores.KindWinstore {
					assert.Equal(t, "Windows Client", e.Label)
					assert.Equal(t, "client1", e.Info.CommonName)
				}
			}
		})
	}
}

func TestPathsRealWindowsElements(t *testing.T) {
	dir := filepath.Join("..", "winstore", "testdata", "real")
	res := stores.Collect(New(nil).Paths(context.Background(), []string{filepath.Join(dir, "*.blob")}))
	// 71CB4E2B has a negative serial, which Go refuses without GODEBUG
	// x509negativeserial=1: an item error that hides none of the others.
	for _, err := range res.Errors {
		assert.Contains(t, err.Error(), "negative serial number")
	}
	require.Len(t, res.Entries, 5-len(res.Errors))
	require.LessOrEqual(t, len(res.Errors), 1)
	for _, e := range res.Entries {
		assert.Equal(t, stores.KindWinstore, e.Store)
	}
}

func TestPathsRealKeychain(t *testing.T) {
	p := filepath.Join("..", "keychain", "testdata", "real", "keychainbreaker-test.keychain-db")
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	renamed := filepath.Join(t.TempDir(), "client.pem")
	require.NoError(t, os.WriteFile(renamed, data, 0o644))
	res := stores.Collect(New(nil).Paths(context.Background(), []string{renamed}))
	require.Empty(t, res.Errors)
	require.Len(t, res.Entries, 1)
	assert.Equal(t, stores.KindKeychain, res.Entries[0].Store)
	assert.Equal(t, "keychainbreaker-test", res.Entries[0].Info.CommonName)
	assert.Equal(t, stores.KeyLinked, res.Entries[0].Key, "a keychain label links the key; its blob is encrypted")
}

func TestRegistryPathGoesToWinstore(t *testing.T) {
	res := stores.Collect(New(nil).Paths(context.Background(), []string{`HKLM\SOFTWARE\Microsoft\SystemCertificates\MY\Certificates`}, stores.KindWinstore))
	for _, err := range res.Errors {
		var ie *stores.ItemError
		require.ErrorAs(t, err, &ie)
		assert.Equal(t, stores.KindWinstore, ie.Store, "the winstore reader, not the dispatcher, answered: %v", err)
	}
	if runtime.GOOS != "windows" {
		require.Len(t, res.Errors, 1, "off Windows the registry cannot be read")
	}
}

// BenchmarkPathsMixedDirectory dispatches a directory holding a PEM file with
// its key, a DER file, a keychain, a text file and a subdirectory.
func BenchmarkPathsMixedDirectory(b *testing.B) {
	kc := testkeychain.Keychain{Certs: []testkeychain.Cert{{DER: derOfB(b, "client1.der"), PrintName: "Keychain Client"}}}.Bytes()
	dir := b.TempDir()
	for name, data := range map[string][]byte{
		"certs.db":   readB(b, "combined.pem"),
		"login.pem":  kc,
		"client.cer": readB(b, "client1.der"),
		"notes.txt":  []byte("not a certificate\n"),
	} {
		require.NoError(b, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	s := New(nil)
	for b.Loop() {
		res := stores.Collect(s.Paths(context.Background(), []string{dir}))
		if len(res.Entries) != 3 || len(res.Errors) != 0 {
			b.Fatalf("got %d entries, %v", len(res.Entries), res.Errors)
		}
	}
}

func readB(b *testing.B, rel string) []byte {
	data, err := os.ReadFile(filepath.Join("..", "pemfile", "testdata", filepath.FromSlash(rel)))
	require.NoError(b, err)
	return data
}

func derOfB(b *testing.B, rel string) []byte {
	c, err := x509.ParseCertificate(readB(b, rel))
	require.NoError(b, err)
	return c.Raw
}

// WithRoot: Defaults reads the default stores of a file system mounted at
// root in this OS's layout, reports their real paths, and reads none of this
// machine's stores; Paths is not rooted.
func TestDefaultsWithRoot(t *testing.T) {
	copyDB := func(t *testing.T, to string) {
		for _, name := range []string{"cert9.db", "key4.db"} {
			data, err := os.ReadFile(filepath.Join(nssFixture(t, "basic"), name))
			require.NoError(t, err)
			require.NoError(t, os.MkdirAll(to, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(to, name), data, 0o600))
		}
	}
	root := t.TempDir()
	// Every OS's layout at once: each OS must find its own stores only.
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("alice:x:1000:1000::/home/alice:/bin/sh\n"), 0o600))
	linuxSystem := filepath.Join(root, "etc", "pki", "nssdb")
	linuxUser := filepath.Join(root, "home", "alice", ".pki", "nssdb")
	copyDB(t, linuxSystem)
	copyDB(t, linuxUser)
	kc := testkeychain.Keychain{Certs: []testkeychain.Cert{{DER: derOf(t, "client1.der"), PrintName: "Keychain Client"}}}.Bytes()
	macUser := filepath.Join(root, "Users", "alice", "Library", "Keychains", "login.keychain-db")
	require.NoError(t, os.MkdirAll(filepath.Dir(macUser), 0o755))
	require.NoError(t, os.WriteFile(macUser, kc, 0o600))
	winUser := filepath.Join(root, "Users", "alice", "AppData", "Roaming", "Microsoft", "SystemCertificates", "My", "Certificates")
	require.NoError(t, os.MkdirAll(winUser, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(winUser, "thumbprint"), element(derOf(t, "client1.der"), "Win Client"), 0o600))

	type source struct {
		store    stores.Kind
		location stores.Location
		username string
		path     string
	}
	var want []source
	switch runtime.GOOS {
	case "linux":
		want = []source{{stores.KindNSSDB, stores.LocationSystem, "", linuxSystem}, {stores.KindNSSDB, stores.LocationUser, "alice", linuxUser}}
	case "darwin":
		want = []source{{stores.KindKeychain, stores.LocationUser, "alice", macUser}}
	case "windows":
		want = []source{{stores.KindWinstore, stores.LocationUser, "alice", winUser}}
	default:
		t.Skipf("no default stores on %s", runtime.GOOS)
	}
	sources := func(res stores.Result) []source {
		seen := map[source]bool{}
		var out []source
		for _, e := range res.Entries {
			s := source{e.Store, e.Location, e.Username, e.Path}
			if e.Store == stores.KindWinstore {
				s.path = filepath.Dir(e.Path) // one entry per element file
			}
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
		return out
	}

	s := New(nil, WithRoot(root))
	res := stores.Collect(s.Defaults(context.Background()))
	assert.Empty(t, res.Errors)
	assert.Equal(t, want, sources(res))

	var users []source
	for _, w := range want {
		if w.location == stores.LocationUser {
			users = append(users, w)
		}
	}
	assert.Equal(t, users, sources(stores.Collect(s.DefaultsAt(context.Background(), stores.LocationUser))))

	// A root with nothing in it has no default stores, whatever this machine holds.
	assert.Empty(t, stores.Collect(New(nil, WithRoot(t.TempDir())).Defaults(context.Background())).Entries)

	// Paths are read as given, not under the root.
	res = stores.Collect(s.Paths(context.Background(), []string{linuxUser}))
	assert.Empty(t, res.Errors)
	assert.NotEmpty(t, res.Entries)
	for _, e := range res.Entries {
		assert.Equal(t, linuxUser, e.Path)
		assert.Equal(t, stores.LocationPath, e.Location)
	}
}

func TestPathsStreamsWhatCollectGathers(t *testing.T) {
	dir := tree(t, map[string][]byte{
		"combined.pem":   pemFixture(t, "combined.pem"),
		"bundle.pem":     pemFixture(t, "bundle.pem"),
		"client_key.pem": pemFixture(t, "pair/client_key.pem"),
		"client.pem":     pemFixture(t, "pair/client.pem"),
	})
	paths := []string{nssFixture(t, "basic"), dir}
	s := New(nil)
	whole := stores.Collect(s.Paths(context.Background(), paths))
	require.Empty(t, whole.Errors)
	type seen struct {
		sha256 string
		key    stores.KeyMatch
		trust  string
	}
	var want []seen
	for _, e := range whole.Entries {
		want = append(want, seen{e.Info.SHA256, e.Key, e.Trust})
	}
	require.Greater(t, len(want), 17, "PEM files and the NSS database")

	var got []seen
	for e, err := range s.Paths(context.Background(), paths) {
		require.NoError(t, err)
		got = append(got, seen{e.Info.SHA256, e.Key, e.Trust})
	}
	assert.Equal(t, want, got, "same entries, same order")

	for _, n := range []int{1, 3, len(want) - 15, len(want) - 14, len(want) - 1} { // across the PEM set and into NSS
		calls := 0
		for range s.Paths(context.Background(), paths) {
			if calls++; calls == n {
				break // range panics if the scanner yields again
			}
		}
		assert.Equal(t, n, calls, "n=%d", n)
	}
}

// TestNoHangNoProcfs: a FIFO anywhere a store file is expected, /proc named
// or globbed, and globs through symlinks never block, never read kernel
// pseudo files, and end quickly.
func TestNoHangNoProcfs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("FIFOs and procfs")
	}
	dir := tree(t, map[string][]byte{"ca.pem": pemFixture(t, "ca.pem")})
	require.NoError(t, mkfifo(filepath.Join(dir, "fifo.pem")))
	require.NoError(t, os.Symlink("/proc/self/status", filepath.Join(dir, "status.pem")))
	for _, paths := range [][]string{
		{dir},
		{filepath.Join(dir, "*")},
		{filepath.Join(dir, "fifo.pem")},
		{"/proc"},
		{"/proc/kmsg"},
		{"/*"},
		{"/proc/*/cwd"},
		{"/sys/kernel/*"},
	} {
		t.Run(strings.Join(paths, ","), func(t *testing.T) {
			// "/*" reads every file directly in /tmp, /root, ...: slow under
			// -race, so the deadline, not the listing, may end it.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			done := make(chan stores.Result, 1)
			go func() { done <- stores.Collect(New(nil).Paths(ctx, paths)) }()
			select {
			case res := <-done:
				for _, e := range res.Entries {
					assert.False(t, strings.HasPrefix(e.Path, "/proc") || strings.HasPrefix(e.Path, "/sys"), e.Path)
				}
			case <-time.After(60 * time.Second):
				t.Fatal("blocked past the deadline")
			}
		})
	}
	res := stores.Collect(New(nil).Paths(context.Background(), []string{filepath.Join(dir, "fifo.pem"), "/proc/kmsg", "/proc"}))
	require.Len(t, res.Errors, 3, "each named non-file says why: %v", res.Errors)
}
