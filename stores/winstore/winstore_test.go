package winstore

import (
	"context"
	"crypto/sha1"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testpki"
	tw "github.com/certsight/certsight/internal/testwinstore"
	"github.com/certsight/certsight/stores"
	"github.com/certsight/certsight/stores/winstore/internal/element"
)

func newCert(t testing.TB, cn string) *x509.Certificate {
	t.Helper()
	c, err := testpki.SelfSigned(cn)
	require.NoError(t, err)
	return c.Cert
}

func thumb(der []byte) string {
	s := sha1.Sum(der)
	return strings.ToUpper(hex.EncodeToString(s[:]))
}

func sha1Bytes(der []byte) []byte {
	s := sha1.Sum(der)
	return s[:]
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, data, 0o600))
	return p
}

func TestRealElements(t *testing.T) {
	cases := []struct {
		file      string
		props     []uint32
		cn        string
		key       bool
		container string
		provider  string
		provType  uint32
		label     string
	}{
		{"71CB4E2B02738AD44F8B382C93BD17BA665F9914.blob", []uint32{2, 32}, "MyName", true,
			"{77EBD02D-D8DE-475A-8867-D20B0064E49F}", "Microsoft Strong Cryptographic Provider", 1, ""},
		{"28CA236A328D9C5240AB1712A1392DAA8B4DD7A0.blob", []uint32{4, 15, 20, 25, 3, 92, 2, 71, 32}, "Local Code Signing", true,
			"2655f347b6b69a9c08890adc0a908581_94f748d5-d585-4309-9e7a-4be163cfc6d4", "Microsoft Enhanced RSA and AES Cryptographic Provider", 24, ""},
		{"D89E3BD43D5D909B47A18977AA9D5CE36CEE184C.blob", []uint32{89, 75, 24, 92, 25, 15, 4, 20, 3, 32},
			"USERTrust RSA Certification Authority", false, "", "", 0, ""},
		{"B9EE85A10FD495D994ED63488AB74A18CB8E6BFA.blob", []uint32{75, 24, 25, 15, 4, 20, 3, 32},
			"GlobalSign Organization Validation CA - G2", false, "", "", 0, ""},
		{"90DEDE9E4C4E9F6FD88617579DD391BC65A68964.blob", []uint32{4, 11, 9, 3, 20, 32},
			"GTE CyberTrust Root", false, "", "", 0, "GTE CyberTrust Root"},
	}
	for _, tc := range cases {
		t.Run(tc.cn, func(t *testing.T) {
			p := filepath.Join("testdata", "real", tc.file)
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			assert.True(t, Sniff(data[:min(len(data), 512)]))

			el, err := element.ParseElement(data)
			require.NoError(t, err)
			var ids []uint32
			for _, pr := range el.Properties {
				ids = append(ids, pr.ID)
			}
			assert.Equal(t, tc.props, ids)
			if v, ok := el.Property(15); ok && tc.file[:4] == "D89E" {
				assert.Len(t, v, 48, "property 15 of D89E3BD4 is 48 bytes")
			}
			kpi, err := el.KeyProvInfo()
			require.NoError(t, err)
			if tc.key {
				require.NotNil(t, kpi)
				assert.Equal(t, tc.container, kpi.ContainerName)
				assert.Equal(t, tc.provider, kpi.ProviderName)
				assert.Equal(t, tc.provType, kpi.ProviderType)
				assert.Equal(t, uint32(2), kpi.KeySpec)
				assert.False(t, kpi.MachineKey())
			} else {
				assert.Nil(t, kpi)
			}

			assert.Equal(t, tc.file[:40], thumb(el.Certificate()), "SHA-1 of property 32 is the file name")
			if v, ok := el.Property(element.PropSHA1Hash); ok {
				assert.Equal(t, tc.file[:40], strings.ToUpper(hex.EncodeToString(v)), "property 3 is the thumbprint")
			}

			res := stores.Collect(New(nil).Read(context.Background(), stores.Source{Path: p, Location: stores.LocationUser, Username: "u", SID: "S-1-5-21-1"}))
			if _, err := x509.ParseCertificate(el.Certificate()); err != nil {
				// 71CB4E2B has a negative serial, which Go refuses unless the
				// binary sets GODEBUG x509negativeserial=1: a clear item error.
				require.Contains(t, err.Error(), "negative serial number")
				require.Len(t, res.Errors, 1)
				assert.Contains(t, res.Errors[0].Error(), "negative serial number")
				assert.Empty(t, res.Entries)
				return
			}
			require.Empty(t, res.Errors, "SHA-1 must match the file name and property 3")
			require.Len(t, res.Entries, 1)
			e := res.Entries[0]
			assert.Equal(t, tc.cn, e.Info.CommonName)
			assert.Equal(t, strings.ToLower(tc.file[:40]), e.Info.SHA1)
			assert.Equal(t, tc.label, e.Label)
			assert.Equal(t, stores.KindWinstore, e.Store)
			assert.Equal(t, stores.LocationUser, e.Location)
			assert.Equal(t, "u", e.Username)
			assert.Equal(t, "S-1-5-21-1", e.SID)
			assert.Equal(t, tc.key, e.Key == stores.KeyLinked)
			assert.False(t, e.Key.HasPrivateKey(), "property 2 is a link, never evidence of the key")
			if tc.key {
				assert.Equal(t, stores.KeyLinked, e.Key)
				assert.Contains(t, e.KeyNote, tc.container)
				assert.Contains(t, e.KeyNote, tc.provider)
			} else {
				assert.Empty(t, e.KeyNote)
			}
		})
	}
}

func TestRealElementsDirectory(t *testing.T) {
	p := filepath.Join("testdata", "real", "README.md")
	res := stores.Collect(New(nil).Read(context.Background(), stores.Source{Path: filepath.Dir(p)}))
	// 71CB4E2B (negative serial) fails to parse unless GODEBUG allows it;
	// README.md is passed over, not an error.
	want := 5
	if len(res.Errors) == 1 && strings.Contains(res.Errors[0].Error(), "negative serial number") {
		want = 4
	} else {
		assert.Empty(t, res.Errors)
	}
	require.Len(t, res.Entries, want)
	keys := 0
	for _, e := range res.Entries {
		assert.Equal(t, strings.ToLower(strings.TrimSuffix(filepath.Base(e.Path), ".blob")), e.Info.SHA1)
		assert.Equal(t, stores.LocationPath, e.Location)
		if e.Key == stores.KeyLinked {
			keys++
		}
	}
	assert.Equal(t, want-3, keys)
}

func TestSynthesizedElements(t *testing.T) {
	c := newCert(t, "synth")
	c2 := newCert(t, "second")
	der := c.Raw
	name := thumb(der)
	capi := tw.KeyProvInfo("le-container", "Microsoft Enhanced RSA and AES Cryptographic Provider", 24, 0, 1)
	cng := tw.KeyProvInfo("cng-key", "Microsoft Software Key Storage Provider", 0, 0x20, 0)
	sst := tw.Store(
		tw.Prop(3, sha1Bytes(der)), tw.Prop(32, der), // element 1
		tw.Prop(33, []byte{0x30, 0x00}),                           // a CRL element, passed over
		tw.Prop(11, tw.UTF16LE("two", true)), tw.Prop(32, c2.Raw), // element 2
		tw.EndMarker,
	)
	cases := []struct {
		name     string
		file     string
		data     []byte
		entries  int
		cn       string
		label    string
		key      stores.KeyMatch
		note     []string
		errs     int
		mismatch bool
	}{
		{name: "certificate only", file: "x.bin", data: tw.Element(tw.Prop(32, der)), entries: 1, cn: "synth"},
		{name: "thumbprint name, property 3, friendly name, CAPI key link", file: name,
			data:    tw.Element(tw.Prop(3, sha1Bytes(der)), tw.Prop(11, tw.UTF16LE("Zoë's 😀 cert", true)), tw.Prop(2, capi), tw.Prop(32, der)),
			entries: 1, cn: "synth", label: "Zoë's 😀 cert", key: stores.KeyLinked,
			note: []string{"CAPI provider", "Microsoft Enhanced RSA and AES Cryptographic Provider", "user container", "le-container"}},
		{name: "lower-case thumbprint name with an extension", file: strings.ToLower(name) + ".blob",
			data: tw.Element(tw.Prop(32, der)), entries: 1, cn: "synth"},
		{name: "CNG machine key", file: "cng", data: tw.Element(tw.Prop(2, cng), tw.Prop(32, der)), entries: 1, cn: "synth",
			key: stores.KeyLinked, note: []string{"CNG key storage provider", "machine container", "cng-key"}},
		{name: "friendly name without NUL", file: "n", data: tw.Element(tw.Prop(11, tw.UTF16LE("bare", false)), tw.Prop(32, der)),
			entries: 1, cn: "synth", label: "bare"},
		{name: "malformed property 2 still links a key", file: "m", data: tw.Element(tw.Prop(2, []byte{1, 2, 3}), tw.Prop(32, der)),
			entries: 1, cn: "synth", key: stores.KeyLinked, note: []string{"malformed"}},
		{name: "property 2 with a string offset outside it", file: "o",
			data:    tw.Element(tw.Prop(2, append(binary.LittleEndian.AppendUint32(nil, 999), make([]byte, 24)...)), tw.Prop(32, der)),
			entries: 1, cn: "synth", key: stores.KeyLinked, note: []string{"malformed", "outside"}},
		{name: "end marker after the element", file: "e", data: tw.Element(tw.Prop(32, der), tw.EndMarker), entries: 1, cn: "synth"},
		{name: "property 3 disagrees: entry kept, mismatch reported", file: "p3",
			data: tw.Element(tw.Prop(3, make([]byte, 20)), tw.Prop(32, der)), entries: 1, cn: "synth", errs: 1, mismatch: true},
		{name: "48-byte property 3 cannot match", file: "p48",
			data: tw.Element(tw.Prop(3, make([]byte, 48)), tw.Prop(32, der)), entries: 1, cn: "synth", errs: 1, mismatch: true},
		{name: "named by another thumbprint: entry kept, mismatch reported", file: thumb(c2.Raw),
			data: tw.Element(tw.Prop(32, der)), entries: 1, cn: "synth", errs: 1, mismatch: true},
		{name: "no certificate property", file: "crl", data: tw.Element(tw.Prop(3, sha1Bytes(der)), tw.Prop(33, []byte{0x30, 0})), errs: 1},
		{name: "property 32 is not a certificate", file: "junk", data: tw.Element(tw.Prop(32, []byte{0x30, 0x03, 1, 2, 3})), errs: 1},
		{name: "serialized store: two certificates, a CRL passed over", file: "roots.sst", data: sst, entries: 2, cn: "synth"},
		{name: "serialized store cut inside its second element", file: "cut.sst", data: sst[:len(sst)-20], entries: 1, cn: "synth", errs: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeTemp(t, tc.file, tc.data)
			res := stores.Collect(New(nil).Read(context.Background(), stores.Source{Path: p}))
			require.Len(t, res.Errors, tc.errs, "%v", res.Errors)
			for _, err := range res.Errors {
				var ie *stores.ItemError
				require.ErrorAs(t, err, &ie)
				assert.Equal(t, p, ie.Path)
				assert.Equal(t, tc.mismatch, isMismatch(err), "%v", err)
			}
			require.Len(t, res.Entries, tc.entries)
			if tc.entries == 0 {
				return
			}
			e := res.Entries[0]
			assert.Equal(t, tc.cn, e.Info.CommonName)
			assert.Equal(t, tc.label, e.Label)
			assert.Equal(t, tc.key, e.Key)
			for _, n := range tc.note {
				assert.Contains(t, e.KeyNote, n)
			}
		})
	}
}

func isMismatch(err error) bool {
	for e := err; e != nil; {
		if e == ErrThumbprintMismatch {
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

// TestCutElements: an element cut anywhere gives an error and never a
// wrong entry (the parser's own cases are in internal/element).
func TestCutElements(t *testing.T) {
	der := newCert(t, "corrupt").Raw
	good := tw.Element(tw.Prop(3, sha1Bytes(der)), tw.Prop(11, tw.UTF16LE("n", true)), tw.Prop(32, der))
	for n := range len(good) {
		p := writeTemp(t, thumb(der), good[:n])
		res := stores.Collect(New(nil).Read(context.Background(), stores.Source{Path: p}))
		require.NotEmpty(t, res.Errors, "cut at %d of %d", n, len(good))
		assert.Empty(t, res.Entries, "cut at %d", n)
	}
}

func TestSniff(t *testing.T) {
	der := newCert(t, "sniff").Raw
	cases := []struct {
		name string
		head []byte
		want bool
	}{
		{"element", tw.Element(tw.Prop(3, sha1Bytes(der)), tw.Prop(32, der)), true},
		{"element head cut inside the certificate", tw.Element(tw.Prop(4, make([]byte, 16)), tw.Prop(32, der))[:100], true},
		{"serialized store", tw.Store(tw.Prop(32, der)), true},
		{"keychain", []byte("kych\x00\x01\x00\x00\x00\x00\x00\x10\x00\x00\x00\x14"), false},
		{"PEM", []byte("-----BEGIN CERTIFICATE-----\nMIIB"), false},
		{"DER", der, false},
		{"shorter than a header", []byte{2, 0, 0, 0, 1, 0, 0, 0}, false},
		{"reserved word 0", []byte{2, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 1, 2, 3, 4}, false},
		{"second header has a bad reserved word", append(tw.Prop(3, make([]byte, 20)), 32, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0), false},
		{"implausible id", []byte{0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0}, false},
		{"only an end marker", tw.EndMarker, false},
		{"empty", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Sniff(tc.head))
		})
	}
}

func TestReadPaths(t *testing.T) {
	der := newCert(t, "dir").Raw
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, thumb(der)), tw.Element(tw.Prop(32, der)), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "desktop.ini"), []byte("[.ShellClassInfo]"), 0o600))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o700))
	r := New(nil)
	ctx := context.Background()

	res := stores.Collect(r.Read(ctx, stores.Source{Path: dir, Location: stores.LocationUser, Username: "bob", SID: "S-1-5-21-9"}))
	assert.Empty(t, res.Errors)
	require.Len(t, res.Entries, 1)
	assert.Equal(t, filepath.Join(dir, thumb(der)), res.Entries[0].Path)
	assert.Equal(t, "bob", res.Entries[0].Username)

	res = stores.Collect(r.Read(ctx, stores.Source{Path: filepath.Join(dir, "desktop.ini")}))
	require.Len(t, res.Errors, 1)
	assert.ErrorIs(t, res.Errors[0], ErrNotElement)

	res = stores.Collect(r.Read(ctx, stores.Source{Path: filepath.Join(dir, "missing")}))
	require.Len(t, res.Errors, 1)
	assert.ErrorIs(t, res.Errors[0], os.ErrNotExist)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	res = stores.Collect(r.Read(cctx, stores.Source{Path: dir}))
	require.Len(t, res.Errors, 1)
	assert.ErrorIs(t, res.Errors[0], context.Canceled)
}

func TestSplitRegistryPath(t *testing.T) {
	cases := []struct {
		in, root, sub string
		ok            bool
	}{
		{`HKLM\SOFTWARE\Microsoft\SystemCertificates\My\Certificates`, "HKLM", SystemMyKey, true},
		{`HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\SystemCertificates\My\Certificates\`, "HKLM", SystemMyKey, true},
		{`HKLM\SOFTWARE\Microsoft\SystemCertificates\MY\Certificates`, "HKLM", `SOFTWARE\Microsoft\SystemCertificates\MY\Certificates`, true},
		{`hkey_users\S-1-5-21-1\Software\Microsoft\SystemCertificates\My\Certificates`, "HKU", `S-1-5-21-1\` + UserMyKey, true},
		{`HKCU/Software/Microsoft/SystemCertificates/My/Certificates`, "HKCU", UserMyKey, true},
		{`HKU`, "HKU", "", true},
		{`C:\Users\bob\AppData\Roaming\Microsoft\SystemCertificates\My\Certificates`, "", "", false},
		{`/home/bob/certs`, "", "", false},
		{`HKLMX\foo`, "", "", false},
		{"", "", "", false},
	}
	for _, tc := range cases {
		root, sub, ok := SplitRegistryPath(tc.in)
		assert.Equal(t, tc.ok, ok, tc.in)
		assert.Equal(t, tc.root, root, tc.in)
		assert.Equal(t, tc.sub, sub, tc.in)
		assert.Equal(t, tc.ok, IsRegistryPath(tc.in))
	}
}

// TestDefaultRegistryPathsOneSpelling: every default registry row spells
// the root in full and the store as "My", so one LIKE finds them all.
func TestDefaultRegistryPathsOneSpelling(t *testing.T) {
	for _, p := range []string{systemRegistryPath, userRegistryPath("S-1-5-21-1-1001")} {
		assert.Regexp(t, `^HKEY_(LOCAL_MACHINE|USERS)\\(S-1-5-21-1-1001\\)?(SOFTWARE|Software)\\Microsoft\\SystemCertificates\\My\\Certificates$`, p)
		assert.True(t, IsRegistryPath(p), p)
	}
	assert.Equal(t, `HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\SystemCertificates\My\Certificates`, systemRegistryPath)
}

func TestUserSources(t *testing.T) {
	profiles := []profile{
		{SID: "S-1-5-18", Home: `C:\Windows\system32\config\systemprofile`},
		{SID: "S-1-5-21-1-1001", Home: "/homes/alice", Username: "alice"},
		{SID: "S-1-5-21-1-1002", Home: "/homes/Bob.CORP"}, // unresolved SID: the folder name
		{SID: "S-1-5-21-1-1003", Home: "/homes/carol", Username: "carol"},
	}
	dirs := map[string]bool{userStoreDir("/homes/alice"): true, userStoreDir("/homes/Bob.CORP"): true,
		userStoreDir(`C:\Windows\system32\config\systemprofile`): true}
	keys := map[string]bool{`S-1-5-21-1-1001\` + UserMyKey: true, `S-1-5-18\` + UserMyKey: true}
	got := userSources(profiles, func(p string) bool { return dirs[p] }, func(k string) bool { return keys[k] })
	assert.Equal(t, []stores.Source{
		{Path: userStoreDir("/homes/alice"), Location: stores.LocationUser, Username: "alice", SID: "S-1-5-21-1-1001"},
		{Path: `HKEY_USERS\S-1-5-21-1-1001\Software\Microsoft\SystemCertificates\My\Certificates`, Location: stores.LocationUser, Username: "alice", SID: "S-1-5-21-1-1001"},
		{Path: userStoreDir("/homes/Bob.CORP"), Location: stores.LocationUser, Username: "Bob.CORP", SID: "S-1-5-21-1-1002"},
	}, got)
	assert.Equal(t, "bob", baseName(`C:\Users\bob\`))
	assert.Equal(t, "bob", baseName(`/Users/bob`))
}
