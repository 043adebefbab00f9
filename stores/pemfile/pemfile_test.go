package pemfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/stores"
)

// Fixtures are made by testdata/make.sh with openssl.
const td = "testdata"

type want struct {
	cn      string
	path    string // relative to testdata
	key     stores.KeyMatch
	note    string
	keyPath string // relative to testdata
}

func fx(rel string) string { return filepath.Join(td, filepath.FromSlash(rel)) }

func checkEntries(t *testing.T, got []stores.Entry, wants []want) {
	t.Helper()
	require.Len(t, got, len(wants), "entries: %v", summary(got))
	for i, w := range wants {
		e := got[i]
		assert.Equal(t, w.cn, e.Info.CommonName, "entry %d", i)
		assert.Equal(t, fx(w.path), e.Path, "entry %d path", i)
		assert.Equal(t, w.key.String(), e.Key.String(), "entry %d key (%s)", i, w.cn)
		assert.Equal(t, w.note, e.KeyNote, "entry %d key note", i)
		if w.keyPath == "" {
			assert.Empty(t, e.KeyPath, "entry %d key path", i)
		} else {
			assert.Equal(t, fx(w.keyPath), e.KeyPath, "entry %d key path", i)
		}
		assert.Equal(t, stores.KindPEM, e.Store)
		assert.Equal(t, stores.LocationPath, e.Location)
		assert.Equal(t, "alice", e.Username)
		assert.NotNil(t, e.Certificate)
	}
}

func summary(es []stores.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Info.CommonName+"@"+e.Path+":"+e.Key.String())
	}
	return out
}

func TestReadFixtures(t *testing.T) {
	tests := []struct {
		name         string
		path         string
		want         []want
		wantErr      []string // substrings, one per expected error
		wantNotExist bool     // the one error is fs.ErrNotExist
	}{
		{name: "certificate and key in one file are matched", path: "combined.pem",
			want: []want{{cn: "client1", path: "combined.pem", key: stores.KeyMatched}}},
		{name: "EC certificate with a SEC1 key in one file is matched", path: "ec-combined.pem",
			want: []want{{cn: "ec-client", path: "ec-combined.pem", key: stores.KeyMatched}}},
		{name: "certificate and key in two files of a directory are paired", path: "pair",
			want: []want{{cn: "client2", path: "pair/client.pem", key: stores.KeyMatched, keyPath: "pair/client_key.pem"}}},
		{name: "a key of another certificate in the same file is a mismatch", path: "wrongkey.pem",
			want: []want{{cn: "client1", path: "wrongkey.pem", key: stores.KeyMismatch, note: NoteMismatch}}},
		{name: "an encrypted PKCS#8 key is locked", path: "encrypted.pem",
			want: []want{{cn: "encrypted-client", path: "encrypted.pem", key: stores.KeyLocked, note: NoteEncrypted}}},
		{name: "a legacy Proc-Type encrypted key is locked", path: "encrypted-legacy.pem",
			want: []want{{cn: "legacy-encrypted-client", path: "encrypted-legacy.pem", key: stores.KeyLocked, note: NoteEncrypted}}},
		{name: "the only key among the files, encrypted, is locked with its path", path: "locked",
			want: []want{{cn: "locked-client", path: "locked/client.pem", key: stores.KeyLocked, note: NoteEncrypted, keyPath: "locked/client_key.pem"}}},
		{name: "a DER certificate without key", path: "client1.der",
			want: []want{{cn: "client1", path: "client1.der", key: stores.KeyAbsent}}},
		{name: "a bundle yields every certificate in order", path: "bundle.pem",
			want: []want{{cn: "client2", path: "bundle.pem"}, {cn: "Fixture CA", path: "bundle.pem"}}},
		{name: "in a chain with a key, only the leaf has it", path: "chain-with-key.pem",
			want: []want{{cn: "client1", path: "chain-with-key.pem", key: stores.KeyMatched}, {cn: "Fixture CA", path: "chain-with-key.pem"}}},
		{name: "a directory's other files are skipped silently", path: "mixed",
			want: []want{{cn: "client1", path: "mixed/a.pem"}, {cn: "client2", path: "mixed/b.crt"}}},
		{name: "a glob pairs the files it matches", path: "pair/client*.pem",
			want: []want{{cn: "client2", path: "pair/client.pem", key: stores.KeyMatched, keyPath: "pair/client_key.pem"}}},
		{name: "a glob's non-certificate matches are skipped silently", path: "mixed/*",
			want: []want{{cn: "client1", path: "mixed/a.pem"}, {cn: "client2", path: "mixed/b.crt"}}},
		{name: "a glob that matches nothing is empty, not an error", path: "nothing-*.pem"},
		{name: "a key file named alone is an error", path: "pair/client_key.pem",
			wantErr: []string{"no certificate in file"}},
		{name: "a named file without certificates is an error", path: "mixed/README.txt",
			wantErr: []string{"no certificate or private key found"}},
		{name: "a named PEM file with only a CSR is an error", path: "mixed/request.csr",
			wantErr: []string{"no certificate or private key found"}},
		{name: "a missing file is an error", path: "missing.pem",
			wantErr: []string{"missing.pem"}, wantNotExist: true},
	}
	r := New(nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := stores.Collect(r.Read(context.Background(), stores.Source{Path: fx(tt.path), Location: stores.LocationPath, Username: "alice"}))
			checkEntries(t, res.Entries, tt.want)
			require.Len(t, res.Errors, len(tt.wantErr), "errors: %v", res.Errors)
			for i, s := range tt.wantErr {
				assert.Contains(t, res.Errors[i].Error(), s)
				if tt.wantNotExist { // the OS's own wording differs (Windows: "File not found.")
					assert.ErrorIs(t, res.Errors[i], fs.ErrNotExist)
				}
				var ie *stores.ItemError
				require.ErrorAs(t, res.Errors[i], &ie)
				assert.Equal(t, stores.KindPEM, ie.Store)
				assert.Equal(t, fx(tt.path), ie.Path)
			}
		})
	}
}

func TestReadFilesPairsAcrossNamedFiles(t *testing.T) {
	tests := []struct {
		name    string
		files   []string
		want    []want
		wantErr int
	}{
		{name: "a cert and the key of another named together are a mismatch",
			files: []string{"client1.der", "pair/client_key.pem"},
			want: []want{{cn: "client1", path: "client1.der", key: stores.KeyMismatch,
				note: "private key in " + fx("pair/client_key.pem") + " belongs to another certificate", keyPath: "pair/client_key.pem"}}},
		{name: "a key matches a cert in another file even beside a CA",
			files: []string{"ca.pem", "pair/client.pem", "pair/client_key.pem"},
			want: []want{{cn: "Fixture CA", path: "ca.pem"},
				{cn: "client2", path: "pair/client.pem", key: stores.KeyMatched, keyPath: "pair/client_key.pem"}}},
		{name: "a lone encrypted key pairs with the only leaf, not the CA",
			files: []string{"ca.pem", "locked/client.pem", "locked/client_key.pem"},
			want: []want{{cn: "Fixture CA", path: "ca.pem"},
				{cn: "locked-client", path: "locked/client.pem", key: stores.KeyLocked, note: NoteEncrypted, keyPath: "locked/client_key.pem"}}},
		{name: "two leaves and one stray key are not guessed at",
			files:   []string{"client1.der", "pair/client.pem", "locked/client_key.pem"},
			want:    []want{{cn: "client1", path: "client1.der"}, {cn: "client2", path: "pair/client.pem"}},
			wantErr: 1},
		{name: "a file listed twice is read once",
			files: []string{"combined.pem", "combined.pem"},
			want:  []want{{cn: "client1", path: "combined.pem", key: stores.KeyMatched}}},
		{name: "an unreadable file does not hide the others",
			files:   []string{"missing.pem", "combined.pem"},
			want:    []want{{cn: "client1", path: "combined.pem", key: stores.KeyMatched}},
			wantErr: 1},
	}
	r := New(nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var files []File
			for _, f := range tt.files {
				files = append(files, File{Path: fx(f), Named: true})
			}
			res := stores.Collect(r.ReadFiles(context.Background(), stores.Source{Location: stores.LocationPath, Username: "alice"}, files))
			checkEntries(t, res.Entries, tt.want)
			assert.Len(t, res.Errors, tt.wantErr, "errors: %v", res.Errors)
		})
	}
}

func copyFixture(t *testing.T, rel, dst string) {
	t.Helper()
	data, err := os.ReadFile(fx(rel))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dst, data, 0o644))
}

func TestSymlinkLoopsAreSafe(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	dir := t.TempDir()
	copyFixture(t, "combined.pem", filepath.Join(dir, "a.pem"))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	copyFixture(t, "client1.der", filepath.Join(dir, "sub", "b.der"))
	require.NoError(t, os.Symlink("..", filepath.Join(dir, "sub", "up")))      // back to the root
	require.NoError(t, os.Symlink(".", filepath.Join(dir, "self")))            // the root itself
	require.NoError(t, os.Symlink("loop", filepath.Join(dir, "loop")))         // ELOOP
	require.NoError(t, os.Symlink("a.pem", filepath.Join(dir, "alias.pem")))   // same file twice
	require.NoError(t, os.Symlink("gone.pem", filepath.Join(dir, "dangling"))) // skipped silently

	res := stores.Collect(New(nil, Recursive()).Read(context.Background(), stores.Source{Path: dir, Location: stores.LocationPath}))
	require.Len(t, res.Entries, 2, "entries: %v", summary(res.Entries))
	assert.Equal(t, filepath.Join(dir, "a.pem"), res.Entries[0].Path)
	assert.Equal(t, stores.KeyMatched, res.Entries[0].Key)
	assert.Equal(t, filepath.Join(dir, "sub", "b.der"), res.Entries[1].Path)
	// The DER copy of client1 pairs with the key in a.pem: same pool.
	assert.Equal(t, stores.KeyMatched, res.Entries[1].Key)
	assert.Equal(t, filepath.Join(dir, "a.pem"), res.Entries[1].KeyPath)
	require.Len(t, res.Errors, 1, "errors: %v", res.Errors)
	assert.Contains(t, res.Errors[0].Error(), "loop")

	// Without Recursive the subdirectory is not read.
	res = stores.Collect(New(nil).Read(context.Background(), stores.Source{Path: dir, Location: stores.LocationPath}))
	assert.Len(t, res.Entries, 1, "entries: %v", summary(res.Entries))
}

func TestOversizedFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	copyFixture(t, "combined.pem", filepath.Join(dir, "a.pem"))
	good, err := os.ReadFile(fx("bundle.pem"))
	require.NoError(t, err)
	big := append(bytes.Repeat(good, MaxFileSize/len(good)), good...) // just over the cap, valid PEM
	require.Greater(t, len(big), MaxFileSize)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big.pem"), big, 0o644))

	for _, src := range []string{dir, filepath.Join(dir, "big.pem")} {
		res := stores.Collect(New(nil).Read(context.Background(), stores.Source{Path: src, Location: stores.LocationPath}))
		require.Len(t, res.Errors, 1, "errors: %v", res.Errors)
		assert.ErrorIs(t, res.Errors[0], errTooLarge)
		assert.Contains(t, res.Errors[0].Error(), "big.pem")
		if src == dir {
			assert.Len(t, res.Entries, 1, "the other file is still read")
		}
	}
	// At exactly the cap a file is read.
	exact := make([]byte, 0, MaxFileSize)
	exact = append(exact, good...)
	exact = append(exact, bytes.Repeat([]byte{'\n'}, MaxFileSize-len(good))...)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big.pem"), exact, 0o644))
	res := stores.Collect(New(nil).Read(context.Background(), stores.Source{Path: filepath.Join(dir, "big.pem"), Location: stores.LocationPath}))
	assert.Empty(t, res.Errors)
	assert.Len(t, res.Entries, 2)
}

func TestUnreadableFileDoesNotHideOthers(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("chmod does not remove read permission on Windows")
	}
	dir := t.TempDir()
	copyFixture(t, "combined.pem", filepath.Join(dir, "a.pem"))
	copyFixture(t, "bundle.pem", filepath.Join(dir, "b.pem"))
	require.NoError(t, os.Chmod(filepath.Join(dir, "b.pem"), 0))
	var res stores.Result
	readable := false
	asUnprivileged(t, dir, func() {
		if f, err := os.Open(filepath.Join(dir, "b.pem")); err == nil {
			f.Close()
			readable = true
			return
		}
		res = stores.Collect(New(nil).Read(context.Background(), stores.Source{Path: dir, Location: stores.LocationPath}))
	})
	if readable {
		t.Skip("running as a user who can read mode 000 files (root, not on Linux); ReadFiles' test covers a failing open")
	}
	require.Len(t, res.Entries, 1)
	require.Len(t, res.Errors, 1)
	assert.ErrorIs(t, res.Errors[0], fs.ErrPermission)
}

func TestCorruptBlockKeepsTheOthers(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(fx("bundle.pem"))
	require.NoError(t, err)
	bad := append([]byte("-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n"), good...)
	p := filepath.Join(dir, "c.pem")
	require.NoError(t, os.WriteFile(p, bad, 0o644))
	res := stores.Collect(New(nil).Read(context.Background(), stores.Source{Path: dir, Location: stores.LocationPath}))
	assert.Len(t, res.Entries, 2)
	require.Len(t, res.Errors, 1)
	assert.Contains(t, res.Errors[0].Error(), "did not parse")
}

func TestContextEndsBetweenFiles(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := stores.Collect(New(nil).Read(ctx, stores.Source{Path: fx("mixed"), Location: stores.LocationPath}))
	assert.Empty(t, res.Entries)
	require.NotEmpty(t, res.Errors)
	assert.True(t, errors.Is(res.Errors[len(res.Errors)-1], context.Canceled))
}

func TestNamedNonRegularFile(t *testing.T) {
	res := stores.Collect(New(nil).ReadFiles(context.Background(), stores.Source{}, []File{{Path: td, Named: true}}))
	require.Len(t, res.Errors, 1)
	assert.ErrorIs(t, res.Errors[0], errNotRegular)
}

func TestSniff(t *testing.T) {
	der, err := os.ReadFile(fx("client1.der"))
	require.NoError(t, err)
	tests := []struct {
		name string
		head []byte
		want bool
	}{
		{"PEM certificate", []byte("-----BEGIN CERTIFICATE-----\nMII"), true},
		{"PEM after text", []byte("subject=CN=x\n-----BEGIN CERTIFICATE-----\n"), true},
		{"PEM key", []byte("-----BEGIN PRIVATE KEY-----\n"), true},
		{"DER certificate", der[:512], true},
		{"short DER object of exact length", append([]byte{0x30, 0x03}, 1, 2, 3), true},
		{"short DER object, wrong length", []byte{0x30, 0x05, 1, 2}, false},
		{"text starting with a zero digit", []byte("0123456789"), false},
		{"keychain magic", []byte("kych\x00\x01\x00\x00"), false},
		{"SQLite", []byte("SQLite format 3\x00"), false},
		{"empty", nil, false},
		{"one byte", []byte{0x30}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Sniff(tt.head))
		})
	}
}

func TestDefaultsIsEmpty(t *testing.T) {
	r := New(nil)
	assert.Nil(t, r.Defaults(context.Background()))
	assert.Equal(t, stores.KindPEM, r.Kind())
}

func TestHasMeta(t *testing.T) {
	assert.True(t, HasMeta("/etc/*.pem"))
	assert.True(t, HasMeta("/etc/a?.pem"))
	assert.True(t, HasMeta("/etc/[ab].pem"))
	assert.False(t, HasMeta("/etc/ssl/certs/a.pem"))
	assert.False(t, strings.ContainsAny(fx("combined.pem"), "*?["))
}

// BenchmarkReadDirectory reads a directory of 40 certificate files, half of
// them with their key in a separate file, the shape of a client-cert folder.
func BenchmarkReadDirectory(b *testing.B) {
	dir := b.TempDir()
	cert, err := os.ReadFile(fx("pair/client.pem"))
	require.NoError(b, err)
	key, err := os.ReadFile(fx("pair/client_key.pem"))
	require.NoError(b, err)
	bundle, err := os.ReadFile(fx("bundle.pem"))
	require.NoError(b, err)
	for i := range 20 {
		require.NoError(b, os.WriteFile(filepath.Join(dir, fmt.Sprintf("c%02d.pem", i)), cert, 0o644))
		require.NoError(b, os.WriteFile(filepath.Join(dir, fmt.Sprintf("c%02d_key.pem", i)), key, 0o644))
		require.NoError(b, os.WriteFile(filepath.Join(dir, fmt.Sprintf("b%02d.pem", i)), bundle, 0o644))
	}
	r := New(nil)
	src := stores.Source{Path: dir, Location: stores.LocationPath}
	b.ResetTimer()
	for b.Loop() {
		res := stores.Collect(r.Read(context.Background(), src))
		if len(res.Entries) != 60 || len(res.Errors) != 0 {
			b.Fatalf("got %d entries, %v", len(res.Entries), res.Errors)
		}
	}
}

// TestJunkBlocksGiveOneShortError: a 4 MiB file of bad PEM blocks gives one
// error of bounded length, not a line the size of the file.
func TestJunkBlocksGiveOneShortError(t *testing.T) {
	block := "-----BEGIN CERTIFICATE-----\nMIIBAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END CERTIFICATE-----\n"
	var b strings.Builder
	for b.Len()+len(block) < MaxFileSize {
		b.WriteString(block)
	}
	p := filepath.Join(t.TempDir(), "junk.pem")
	require.NoError(t, os.WriteFile(p, []byte(b.String()), 0o644))
	res := stores.Collect(New(nil).Read(context.Background(), stores.Source{Path: p, Location: stores.LocationPath}))
	assert.Empty(t, res.Entries)
	require.Len(t, res.Errors, 1)
	assert.Less(t, len(res.Errors[0].Error()), 4096, "one short error")
	assert.Contains(t, res.Errors[0].Error(), "more")
}
