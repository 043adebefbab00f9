package keychain

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/fsafe"
	"github.com/certsight/certsight/internal/testkeychain"
	"github.com/certsight/certsight/stores"
	"github.com/certsight/certsight/stores/keychain/internal/kcfile"
)

// newCert makes a self-signed certificate with a fresh P-256 key.
// Real keychains made by macOS (provenance in testdata/real/README.md).
const (
	realKeychain    = "testdata/real/keychainbreaker-test.keychain-db"
	realNoCertTable = "testdata/real/dtformats-login.keychain"
)

func newCert(t testing.TB, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c
}

func hashOf(t testing.TB, c *x509.Certificate) []byte {
	t.Helper()
	h, err := kcfile.PublicKeyHash(c)
	require.NoError(t, err)
	return h
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, data, 0o600))
	return p
}

func TestRealKeychainWithIdentity(t *testing.T) {
	p := realKeychain
	res := stores.Collect(New(nil).Read(context.Background(), stores.Source{Path: p, Location: stores.LocationUser, Username: "alice"}))
	require.Empty(t, res.Errors)
	require.Len(t, res.Entries, 1)
	e := res.Entries[0]
	assert.Equal(t, "keychainbreaker-test", e.Info.CommonName)
	assert.Equal(t, "keychainbreaker-test", e.Label)
	assert.Equal(t, stores.KindKeychain, e.Store)
	assert.Equal(t, stores.LocationUser, e.Location)
	assert.Equal(t, "alice", e.Username)
	assert.Equal(t, p, e.Path)
	assert.Equal(t, stores.KeyLinked, e.Key, e.KeyNote)
	assert.False(t, e.Key.HasPrivateKey(), "a label link is not evidence of the key")
	assert.True(t, e.Info.SelfSigned)
	assert.Equal(t, "RSA", e.Info.KeyAlgorithm)

	// Apple's public-key hash rule, checked against the file itself: the
	// computed hash equals both the certificate's hpky and the key's Label.
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	f, err := kcfile.ParseFile(data)
	require.NoError(t, err)
	require.Empty(t, f.Problems)
	certs, errs := f.Certificates()
	require.Empty(t, errs)
	require.Len(t, certs, 1)
	labels, errs := f.PrivateKeyLabels()
	require.Empty(t, errs)
	require.Len(t, labels, 1)
	h := hashOf(t, e.Certificate)
	assert.Equal(t, "57b87b23be287c9b51cc3f9283a4466dcbe4eb93", hex.EncodeToString(h))
	assert.Equal(t, h, certs[0].PublicKeyHash)
	assert.Equal(t, h, labels[0])
	// The schema came from the file: 12 relations, the cert table with its 9 columns.
	assert.Len(t, f.Table(kcfile.TableX509Certificate).Attributes, 9)
	assert.Len(t, f.Table(kcfile.TablePrivateKey).Attributes, 27)
}

func TestRealKeychainWithoutCertificateTable(t *testing.T) {
	p := realNoCertTable
	res := stores.Collect(New(nil).Read(context.Background(), stores.Source{Path: p}))
	assert.Empty(t, res.Errors)
	assert.Empty(t, res.Entries)

	data, err := os.ReadFile(p)
	require.NoError(t, err)
	f, err := kcfile.ParseFile(data)
	require.NoError(t, err)
	assert.Nil(t, f.Table(kcfile.TableX509Certificate))
	assert.Len(t, f.Tables, 11)
}

func TestSynthesizedKeychains(t *testing.T) {
	withKey := newCert(t, "with key")
	noKey := newCert(t, "no key")
	other := newCert(t, "elsewhere")
	type want struct {
		cn, label string
		key       stores.KeyMatch
		note      string
	}
	cases := []struct {
		name  string
		kc    testkeychain.Keychain
		wants []want
		errs  int
	}{
		{
			name: "key paired by public-key hash, the other certificate has none",
			kc: testkeychain.Keychain{
				Certs: []testkeychain.Cert{
					{DER: withKey.Raw, PrintName: "Work ID", PublicKeyHash: hashOf(t, withKey)},
					{DER: noKey.Raw, PrintName: "Some CA", PublicKeyHash: hashOf(t, noKey)},
				},
				KeyLabels: [][]byte{hashOf(t, withKey)},
			},
			wants: []want{{"with key", "Work ID", stores.KeyLinked, "key blob"}, {"no key", "Some CA", stores.KeyAbsent, ""}},
		},
		{
			name: "schema table absent: built-in layouts still read both tables",
			kc: testkeychain.Keychain{
				Certs:     []testkeychain.Cert{{DER: withKey.Raw, PrintName: "Work ID", PublicKeyHash: hashOf(t, withKey)}},
				KeyLabels: [][]byte{hashOf(t, withKey)},
				NoSchema:  true,
			},
			wants: []want{{"with key", "Work ID", stores.KeyLinked, ""}},
		},
		{
			name:  "no certificate table means no certificates and no error",
			kc:    testkeychain.Keychain{NoCertTable: true, KeyLabels: [][]byte{hashOf(t, withKey)}},
			wants: nil,
		},
		{
			name: "a key of another certificate does not count",
			kc: testkeychain.Keychain{
				Certs:     []testkeychain.Cert{{DER: noKey.Raw, PrintName: "x", PublicKeyHash: hashOf(t, noKey)}},
				KeyLabels: [][]byte{hashOf(t, other)},
			},
			wants: []want{{"no key", "x", stores.KeyAbsent, ""}},
		},
		{
			name: "a forged stored hash cannot borrow another certificate's key",
			kc: testkeychain.Keychain{
				Certs:     []testkeychain.Cert{{DER: noKey.Raw, PrintName: "forged", PublicKeyHash: hashOf(t, withKey)}},
				KeyLabels: [][]byte{hashOf(t, withKey)},
			},
			wants: []want{{"no key", "forged", stores.KeyAbsent, "differs"}},
		},
		{
			name: "missing stored hash and print name: key still paired by the computed hash",
			kc: testkeychain.Keychain{
				Certs:     []testkeychain.Cert{{DER: withKey.Raw}},
				KeyLabels: [][]byte{[]byte("unrelated label"), hashOf(t, withKey)},
			},
			wants: []want{{"with key", "", stores.KeyLinked, ""}},
		},
		{
			name: "a record that is not a certificate is an item error, the rest is read",
			kc: testkeychain.Keychain{Certs: []testkeychain.Cert{
				{DER: []byte("not DER"), PrintName: "junk"},
				{DER: noKey.Raw, PrintName: "good"},
			}},
			wants: []want{{"no key", "good", stores.KeyAbsent, ""}},
			errs:  1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeTemp(t, "login.keychain-db", tc.kc.Bytes())
			res := stores.Collect(New(nil).Read(context.Background(), stores.Source{Path: p}))
			require.Len(t, res.Errors, tc.errs, "%v", res.Errors)
			for _, err := range res.Errors {
				var ie *stores.ItemError
				require.ErrorAs(t, err, &ie)
				assert.Equal(t, p, ie.Path)
			}
			require.Len(t, res.Entries, len(tc.wants))
			for i, w := range tc.wants {
				e := res.Entries[i]
				assert.Equal(t, w.cn, e.Info.CommonName)
				assert.Equal(t, w.label, e.Label)
				assert.Equal(t, w.key, e.Key)
				assert.Equal(t, stores.LocationPath, e.Location)
				assert.Contains(t, e.KeyNote, w.note)
			}
		})
	}
}

// Cutting a file anywhere must give an error and never a panic or an entry
// that was not in the file.
func TestTruncatedKeychains(t *testing.T) {
	c := newCert(t, "cut")
	data, lay := testkeychain.Keychain{
		Certs:     []testkeychain.Cert{{DER: c.Raw, PrintName: "cut", PublicKeyHash: hashOf(t, c)}},
		KeyLabels: [][]byte{hashOf(t, c)},
	}.Build()
	cuts := append(lay.Boundaries(), 0, 1, 3, len(data)-1)
	for _, n := range cuts {
		if n >= len(data) {
			continue
		}
		p := writeTemp(t, "cut.keychain", data[:n])
		res := stores.Collect(New(nil).Read(context.Background(), stores.Source{Path: p}))
		assert.NotEmpty(t, res.Errors, "cut at %d of %d", n, len(data))
		for _, e := range res.Entries {
			assert.Equal(t, c.Raw, e.Certificate.Raw, "cut at %d", n)
		}
	}
	// Every other length too, at the parser level.
	for n := range len(data) {
		f, err := kcfile.ParseFile(data[:n])
		if err != nil {
			continue
		}
		assert.NotEmpty(t, f.Problems, "cut at %d parsed without a problem", n)
		exercise(f)
	}
}

func TestCorruptKeychains(t *testing.T) {
	c := newCert(t, "corrupt")
	base, lay := testkeychain.Keychain{
		Certs:     []testkeychain.Cert{{DER: c.Raw, PrintName: "corrupt", PublicKeyHash: hashOf(t, c)}},
		KeyLabels: [][]byte{hashOf(t, c)},
	}.Build()
	var certTable, keyTable testkeychain.TableLayout
	for _, tl := range lay.Tables {
		switch tl.ID {
		case kcfile.TableX509Certificate:
			certTable = tl
		case kcfile.TablePrivateKey:
			keyTable = tl
		}
	}
	certRec, keyRec := certTable.Records[0], keyTable.Records[0]
	put := func(off int, v uint32) func([]byte) {
		return func(b []byte) { binary.BigEndian.PutUint32(b[off:], v) }
	}
	cases := []struct {
		name    string
		mutate  func([]byte)
		fileErr string // kcfile.ParseFile fails with this
		entries int    // else Read returns this many entries and at least one error
	}{
		{"wrong magic", func(b []byte) { copy(b, "KYCH") }, "no \"kych\" magic", 0},
		{"unknown version", put(4, 0x00020000), "unsupported keychain version", 0},
		{"schema offset past the end", put(12, 0xfffffff0), "schema offset", 0},
		{"schema size past the end", put(lay.SchemaOffset, 0x7fffffff), "schema size", 0},
		{"table count larger than the schema", put(lay.SchemaOffset+4, 0x10000000), "lists", 0},
		{"certificate table offset past the end", put(lay.SchemaOffset+8+4*(len(lay.Tables)-1), 0x7ffffff0), "", 0},
		{"certificate table size past the end", put(certTable.Offset, 0x7fffffff), "", 0},
		{"record slot count larger than the table", put(certTable.Offset+24, 0x40000000), "", 0},
		{"record offset past the table", put(certTable.Offset+28, 0x7ffffff0), "", 0},
		{"record size past the table", put(certRec.Offset, 0x7ffffff0), "", 0},
		{"record too small for its attributes", put(certRec.Offset, 28), "", 0},
		{"data size past the record", put(certRec.Offset+16, 0x7ffffff0), "", 0},
		{"print name offset past the record", put(certRec.AttrOffset+4*2, 0x7ffffff1), "", 0},
		{"print name length past the record", put(certRec.ValueStart+8, 0x7ffffff0), "", 0},
		{"value count implausibly large", func(b []byte) {
			binary.BigEndian.PutUint32(b[certRec.AttrOffset+4*2:], uint32(certRec.ValueStart-certRec.Offset))
			binary.BigEndian.PutUint32(b[certRec.ValueStart:], 0x7fffffff)
		}, "", 0},
		// A broken key record only loses the key, never the certificate.
		{"key label offset past the record", put(keyRec.AttrOffset+4*6, 0x7ffffff1), "", 1},
		{"certificate DER damaged", func(b []byte) { b[certRec.DataOffset+1] ^= 0xff }, "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := append([]byte(nil), base...)
			tc.mutate(data)
			f, err := kcfile.ParseFile(data)
			if tc.fileErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.fileErr)
			} else {
				require.NoError(t, err)
				exercise(f)
			}
			p := writeTemp(t, "bad.keychain", data)
			res := stores.Collect(New(nil).Read(context.Background(), stores.Source{Path: p}))
			assert.NotEmpty(t, res.Errors)
			require.Len(t, res.Entries, tc.entries)
			for _, e := range res.Entries {
				assert.Equal(t, stores.KeyAbsent, e.Key)
			}
		})
	}
}

func TestReadPaths(t *testing.T) {
	c := newCert(t, "in dir")
	kc := testkeychain.Keychain{Certs: []testkeychain.Cert{{DER: c.Raw, PrintName: "dir"}}}.Bytes()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.keychain-db"), kc, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o700))
	r := New(nil)
	ctx := context.Background()

	t.Run("directory: keychains by content, other files passed over", func(t *testing.T) {
		res := stores.Collect(r.Read(ctx, stores.Source{Path: dir, Location: stores.LocationPath}))
		assert.Empty(t, res.Errors)
		require.Len(t, res.Entries, 1)
		assert.Equal(t, filepath.Join(dir, "a.keychain-db"), res.Entries[0].Path)
	})
	t.Run("a named file of another kind is an item error", func(t *testing.T) {
		res := stores.Collect(r.Read(ctx, stores.Source{Path: filepath.Join(dir, "notes.txt")}))
		require.Len(t, res.Errors, 1)
		assert.ErrorIs(t, res.Errors[0], ErrNotKeychain)
		assert.Empty(t, res.Entries)
	})
	t.Run("missing path", func(t *testing.T) {
		res := stores.Collect(r.Read(ctx, stores.Source{Path: filepath.Join(dir, "nope")}))
		require.Len(t, res.Errors, 1)
		assert.ErrorIs(t, res.Errors[0], os.ErrNotExist)
	})
	t.Run("file over the size cap is refused before reading", func(t *testing.T) {
		p := filepath.Join(dir, "huge")
		f, err := os.Create(p)
		require.NoError(t, err)
		require.NoError(t, f.Truncate(MaxFileSize+1)) // sparse
		require.NoError(t, f.Close())
		res := stores.Collect(r.Read(ctx, stores.Source{Path: p}))
		require.Len(t, res.Errors, 1)
		assert.Contains(t, res.Errors[0].Error(), "limit")
		require.NoError(t, os.Remove(p))
	})
	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		res := stores.Collect(r.Read(cctx, stores.Source{Path: dir}))
		require.Len(t, res.Errors, 1)
		assert.True(t, errors.Is(res.Errors[0], context.Canceled))
		assert.Empty(t, res.Entries)
	})
	t.Run("owner and location carried from the source", func(t *testing.T) {
		res := stores.Collect(r.Read(ctx, stores.Source{Path: filepath.Join(dir, "a.keychain-db"), Location: stores.LocationUser, Username: "bob", SID: "x"}))
		require.Len(t, res.Entries, 1)
		e := res.Entries[0]
		assert.Equal(t, stores.LocationUser, e.Location)
		assert.Equal(t, "bob", e.Username)
		assert.Equal(t, "x", e.SID)
	})
}

func TestReadLeavesFileUntouched(t *testing.T) {
	c := newCert(t, "ro")
	data := testkeychain.Keychain{Certs: []testkeychain.Cert{{DER: c.Raw}}, KeyLabels: [][]byte{hashOf(t, c)}}.Bytes()
	p := writeTemp(t, "ro.keychain-db", data)
	require.NoError(t, os.Chmod(p, 0o400)) // a read-write open would fail
	before, err := os.Stat(p)
	require.NoError(t, err)
	res := stores.Collect(New(nil).Read(context.Background(), stores.Source{Path: p}))
	require.Empty(t, res.Errors)
	require.Len(t, res.Entries, 1)
	after, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, before.ModTime(), after.ModTime())
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, data, got)
}

func TestSniff(t *testing.T) {
	assert.True(t, Sniff([]byte("kych\x00\x01\x00\x00")))
	assert.True(t, Sniff(testkeychain.Keychain{}.Bytes()))
	assert.False(t, Sniff([]byte("kyc")))
	assert.False(t, Sniff(nil))
	assert.False(t, Sniff([]byte("-----BEGIN CERTIFICATE-----")))
}

func TestFindDefaults(t *testing.T) {
	root := t.TempDir()
	system := filepath.Join(root, "System.keychain")
	users := filepath.Join(root, "Users")
	mk := func(rel string) {
		p := filepath.Join(users, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		require.NoError(t, os.WriteFile(p, []byte(kcfile.Magic), 0o600))
	}
	require.NoError(t, os.WriteFile(system, []byte(kcfile.Magic), 0o600))
	mk("alice/Library/Keychains/login.keychain-db")
	mk("alice/Library/Keychains/login.keychain") // older copy: the -db one wins
	mk("bob/Library/Keychains/login.keychain")
	require.NoError(t, os.MkdirAll(filepath.Join(users, "carol"), 0o700)) // no keychain
	mk("Shared/Library/Keychains/login.keychain-db")

	got := findDefaults(context.Background(), New(nil).cfg.Log, fsafe.FS{}, system, users)
	assert.Equal(t, []stores.Source{
		{Path: system, Location: stores.LocationSystem},
		{Path: filepath.Join(users, "alice/Library/Keychains/login.keychain-db"), Location: stores.LocationUser, Username: "alice"},
		{Path: filepath.Join(users, "bob/Library/Keychains/login.keychain"), Location: stores.LocationUser, Username: "bob"},
	}, got)

	assert.Empty(t, findDefaults(context.Background(), New(nil).cfg.Log, fsafe.FS{}, filepath.Join(root, "none"), filepath.Join(root, "none")))
}

// exercise calls every accessor of a parsed file, as a reader would.
func exercise(f *kcfile.File) {
	for _, t := range f.Tables {
		for _, r := range t.Records {
			for _, a := range t.Attributes {
				_, _ = r.Values(a.ID)
			}
		}
	}
	_, _ = f.Certificates()
	_, _ = f.PrivateKeyLabels()
}
