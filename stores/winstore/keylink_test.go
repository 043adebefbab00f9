package winstore

import (
	"context"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	tw "github.com/certsight/certsight/internal/testwinstore"
	"github.com/certsight/certsight/stores"
	"github.com/certsight/certsight/stores/winstore/internal/keyfile"
)

// The key files come from keyfile's synthesized set (no key file written by
// Windows was available): capi-exchange.key holds rsa.pem's key as the
// exchange pair of container "certsight-capi", cng-ecdsa.key ec.pem's key
// as CNG key "certsight-cng", and so on (see internal/keyfile/synth_test.go).
const (
	synthDir  = "internal/keyfile/testdata/synth"
	synthGUID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	aliceSID  = "S-1-5-21-1111-2222-3333-1001"
)

func synth(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(synthDir, name))
	require.NoError(t, err)
	return b
}

func synthCert(t *testing.T, name string) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(synth(t, name))
	require.NotNil(t, blk)
	c, err := x509.ParseCertificate(blk.Bytes)
	require.NoError(t, err)
	return c
}

// image is a Windows file system laid out under a temporary folder.
type image struct {
	t    *testing.T
	root string
}

func (im image) roaming() string {
	return filepath.Join(im.root, "Users", "alice", "AppData", "Roaming")
}

func (im image) myStore() string {
	return filepath.Join(im.roaming(), "Microsoft", "SystemCertificates", "My", "Certificates")
}

func (im image) userRSA() string {
	return filepath.Join(im.roaming(), "Microsoft", "Crypto", "RSA", aliceSID)
}

func (im image) userCNG() string { return filepath.Join(im.roaming(), "Microsoft", "Crypto", "Keys") }

func (im image) machineRSA() string {
	return filepath.Join(im.root, "ProgramData", "Microsoft", "Crypto", "RSA", "MachineKeys")
}

func (im image) write(p string, data []byte) {
	im.t.Helper()
	require.NoError(im.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(im.t, os.WriteFile(p, data, 0o644))
}

// capiName and cngName are the file names Windows gives a container.
func capiName(t *testing.T, container, guid string) string {
	h, ok := keyfile.CAPIFileHash(container)
	require.True(t, ok)
	return h + "_" + guid
}

func cngName(t *testing.T, key, guid string) string {
	h, ok := keyfile.CNGFileHash(key)
	require.True(t, ok)
	return h + "_" + guid
}

const (
	enhancedRSAAES = "Microsoft Enhanced RSA and AES Cryptographic Provider"
	softwareKSP    = "Microsoft Software Key Storage Provider"
)

func TestKeyLinkFollowedToKeyFile(t *testing.T) {
	rsaCert := synthCert(t, "rsa.pem")
	ecCert := synthCert(t, "ec.pem")
	type link struct {
		container, provider string
		provType, flags     uint32
		keySpec             uint32
	}
	capi := func(container string, spec uint32) link {
		return link{container: container, provider: enhancedRSAAES, provType: 24, keySpec: spec}
	}
	cng := func(key string) link { return link{container: key, provider: softwareKSP} }
	cases := []struct {
		name  string
		cert  *x509.Certificate
		link  link
		files func(im image) // key files to lay out
		want  stores.KeyMatch
		note  []string
		path  bool // KeyPath names the key file
	}{
		{name: "CAPI exchange pair, public half matches: locked", cert: rsaCert, link: capi("certsight-capi", 1),
			files: func(im image) {
				im.write(filepath.Join(im.userRSA(), capiName(t, "certsight-capi", synthGUID)), synth(t, "capi-exchange.key"))
			},
			want: stores.KeyLocked, note: []string{"public half matches", "DPAPI-encrypted"}, path: true},
		{name: "container name in another case still hashes to the file", cert: rsaCert, link: capi("CertSight-CAPI", 1),
			files: func(im image) {
				im.write(filepath.Join(im.userRSA(), capiName(t, "certsight-capi", synthGUID)), synth(t, "capi-exchange.key"))
			},
			want: stores.KeyLocked, path: true},
		{name: "CAPI container of another key: mismatch", cert: rsaCert, link: capi("certsight-other", 2),
			files: func(im image) {
				im.write(filepath.Join(im.userRSA(), capiName(t, "certsight-other", synthGUID)), synth(t, "capi-signature-other.key"))
			},
			want: stores.KeyMismatch, note: []string{"another public key"}, path: true},
		{name: "key spec names the empty pair: absent", cert: rsaCert, link: capi("certsight-capi", 2),
			files: func(im image) {
				im.write(filepath.Join(im.userRSA(), capiName(t, "certsight-capi", synthGUID)), synth(t, "capi-exchange.key"))
			},
			want: stores.KeyAbsent, note: []string{"holds no private key"}, path: true},
		{name: "public half without a private half: absent", cert: rsaCert, link: capi("certsight-public", 1),
			files: func(im image) {
				im.write(filepath.Join(im.userRSA(), capiName(t, "certsight-public", synthGUID)), synth(t, "capi-public-only.key"))
			},
			want: stores.KeyAbsent, note: []string{"holds no private key"}, path: true},
		{name: "key folder without the container: absent", cert: rsaCert, link: capi("certsight-capi", 1),
			files: func(im image) {
				im.write(filepath.Join(im.userRSA(), capiName(t, "someone-else", synthGUID)), synth(t, "capi-signature-other.key"))
			},
			want: stores.KeyAbsent, note: []string{"no key file", "certsight-capi"}},
		{name: "no key folder at all: unknown, not absent", cert: rsaCert, link: capi("certsight-capi", 1),
			files: func(image) {},
			want:  stores.KeyUnknown, note: []string{"does not exist"}},
		{name: "machine key in MachineKeys", cert: rsaCert,
			link: link{container: "certsight-capi", provider: enhancedRSAAES, provType: 24, flags: 0x20, keySpec: 1},
			files: func(im image) {
				im.write(filepath.Join(im.machineRSA(), capiName(t, "certsight-capi", synthGUID)), synth(t, "capi-exchange.key"))
			},
			want: stores.KeyLocked, note: []string{"machine container"}, path: true},
		{name: "machine key is not looked for in the user's folder", cert: rsaCert,
			link: link{container: "certsight-capi", provider: enhancedRSAAES, provType: 24, flags: 0x20, keySpec: 1},
			files: func(im image) {
				im.write(filepath.Join(im.userRSA(), capiName(t, "certsight-capi", synthGUID)), synth(t, "capi-exchange.key"))
				require.NoError(t, os.MkdirAll(im.machineRSA(), 0o755))
			},
			want: stores.KeyAbsent},
		{name: "cloned machine: the matching one of two files wins", cert: rsaCert, link: capi("certsight-capi", 1),
			files: func(im image) {
				other, err := keyfile.ParseCAPI(synth(t, "capi-signature-other.key"))
				require.NoError(t, err)
				forged := capiContainer("certsight-capi", other.Signature.Public, make([]byte, 1200))
				im.write(filepath.Join(im.userRSA(), capiName(t, "certsight-capi", "00000000-0000-0000-0000-000000000000")), forged)
				im.write(filepath.Join(im.userRSA(), capiName(t, "certsight-capi", synthGUID)), synth(t, "capi-exchange.key"))
			},
			want: stores.KeyLocked, path: true},
		{name: "file under the right name holds another container: unknown", cert: rsaCert, link: capi("certsight-capi", 1),
			files: func(im image) {
				im.write(filepath.Join(im.userRSA(), capiName(t, "certsight-capi", synthGUID)), synth(t, "capi-signature-other.key"))
			},
			want: stores.KeyUnknown, note: []string{`named for container "certsight-other"`}},
		{name: "damaged key file: unknown", cert: rsaCert, link: capi("certsight-capi", 1),
			files: func(im image) {
				im.write(filepath.Join(im.userRSA(), capiName(t, "certsight-capi", synthGUID)), synth(t, "capi-exchange.key")[:100])
			},
			want: stores.KeyUnknown, note: []string{"overrun"}},
		{name: "oversized key file is not read: unknown", cert: rsaCert, link: capi("certsight-capi", 1),
			files: func(im image) {
				im.write(filepath.Join(im.userRSA(), capiName(t, "certsight-capi", synthGUID)), make([]byte, keyfile.MaxFileSize+1))
			},
			want: stores.KeyUnknown, note: []string{"size limit"}},
		{name: "CNG ECDSA key: locked", cert: ecCert, link: cng("certsight-cng"),
			files: func(im image) {
				im.write(filepath.Join(im.userCNG(), cngName(t, "certsight-cng", synthGUID)), synth(t, "cng-ecdsa.key"))
			},
			want: stores.KeyLocked, note: []string{"CNG key storage provider", "public half matches"}, path: true},
		{name: "CNG RSA key of another certificate: mismatch", cert: ecCert, link: cng("certsight-cng-rsa"),
			files: func(im image) {
				im.write(filepath.Join(im.userCNG(), cngName(t, "certsight-cng-rsa", synthGUID)), synth(t, "cng-rsa.key"))
			},
			want: stores.KeyMismatch, path: true},
		{name: "CNG key without a clear public half: linked, nothing compared", cert: ecCert, link: cng("certsight-cng-bare"),
			files: func(im image) {
				im.write(filepath.Join(im.userCNG(), cngName(t, "certsight-cng-bare", synthGUID)), synth(t, "cng-no-public.key"))
			},
			want: stores.KeyLinked, note: []string{"no clear public half", "nothing was compared"}, path: true},
		{name: "CNG key folder empty: absent", cert: ecCert, link: cng("certsight-cng"),
			files: func(im image) { require.NoError(t, os.MkdirAll(im.userCNG(), 0o755)) },
			want:  stores.KeyAbsent},
		{name: "smart card provider: linked", cert: rsaCert,
			link:  link{container: "certsight-capi", provider: "Microsoft Base Smart Card Crypto Provider", provType: 1, keySpec: 1},
			files: func(image) {}, want: stores.KeyLinked, note: []string{"elsewhere"}},
		{name: "TPM key storage provider: linked", cert: ecCert,
			link:  link{container: "certsight-cng", provider: "Microsoft Platform Crypto Provider"},
			files: func(image) {}, want: stores.KeyLinked, note: []string{"elsewhere"}},
		{name: "non-ASCII container name: linked", cert: rsaCert, link: capi("clé", 1),
			files: func(image) {}, want: stores.KeyLinked, note: []string{"code page"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			im := image{t: t, root: t.TempDir()}
			tc.files(im)
			kpi := tw.KeyProvInfo(tc.link.container, tc.link.provider, tc.link.provType, tc.link.flags, tc.link.keySpec)
			el := tw.Element(tw.Prop(2, kpi), tw.Prop(32, tc.cert.Raw))
			im.write(filepath.Join(im.myStore(), thumb(tc.cert.Raw)), el)
			for _, rooted := range []bool{false, true} {
				var opts []Option
				if rooted {
					opts = append(opts, WithRoot(im.root))
				}
				res := stores.Collect(New(nil, opts...).Read(context.Background(),
					stores.Source{Path: im.myStore(), Location: stores.LocationUser, Username: "alice", SID: aliceSID}))
				require.Empty(t, res.Errors)
				require.Len(t, res.Entries, 1)
				e := res.Entries[0]
				assert.Equal(t, tc.want.String(), e.Key.String(), "rooted=%v: %s", rooted, e.KeyNote)
				assert.False(t, e.Key.HasPrivateKey(), "a DPAPI-encrypted key is never evidence of the key")
				assert.Contains(t, e.KeyNote, tc.link.container)
				for _, n := range tc.note {
					assert.Contains(t, e.KeyNote, n)
				}
				if tc.path {
					assert.True(t, strings.HasPrefix(e.KeyPath, im.root), "KeyPath %q", e.KeyPath)
				} else {
					assert.Empty(t, e.KeyPath)
				}
			}
		})
	}
}

// Without the owner's SID (a disk image's profile folder) the CAPI key is
// looked for in every S-1-… folder of the profile.
func TestKeyLinkWithoutSID(t *testing.T) {
	im := image{t: t, root: t.TempDir()}
	c := synthCert(t, "rsa.pem")
	im.write(filepath.Join(im.userRSA(), capiName(t, "certsight-capi", synthGUID)), synth(t, "capi-exchange.key"))
	require.NoError(t, os.MkdirAll(filepath.Join(im.roaming(), "Microsoft", "Crypto", "RSA", "S-1-5-21-9-9-9-500"), 0o755))
	im.write(filepath.Join(im.myStore(), thumb(c.Raw)), tw.Element(tw.Prop(2, tw.KeyProvInfo("certsight-capi", "", 1, 0, 1)), tw.Prop(32, c.Raw)))
	res := stores.Collect(New(nil, WithRoot(im.root)).Read(context.Background(), stores.Source{Path: im.myStore()}))
	require.Empty(t, res.Errors)
	require.Len(t, res.Entries, 1)
	assert.Equal(t, stores.KeyLocked, res.Entries[0].Key, res.Entries[0].KeyNote)
}

// Under --root, a key file that is a symlink resolves inside the root: an
// absolute target names the image's file, not this machine's.
func TestKeyFileSymlinkStaysInRoot(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows; fsafe's own tests cover os.Root there")
	}
	im := image{t: t, root: t.TempDir()}
	c := synthCert(t, "rsa.pem")
	outside := filepath.Join(t.TempDir(), "capi-exchange.key")
	require.NoError(t, os.WriteFile(outside, synth(t, "capi-exchange.key"), 0o644))
	require.NoError(t, os.MkdirAll(im.userRSA(), 0o755))
	require.NoError(t, os.Symlink(outside, filepath.Join(im.userRSA(), capiName(t, "certsight-capi", synthGUID))))
	im.write(filepath.Join(im.myStore(), thumb(c.Raw)), tw.Element(tw.Prop(2, tw.KeyProvInfo("certsight-capi", enhancedRSAAES, 24, 0, 1)), tw.Prop(32, c.Raw)))
	res := stores.Collect(New(nil, WithRoot(im.root)).Read(context.Background(),
		stores.Source{Path: im.myStore(), SID: aliceSID}))
	require.Len(t, res.Entries, 1)
	assert.Equal(t, stores.KeyUnknown, res.Entries[0].Key, "the link's target is %s inside the root, which does not exist", outside)
}

func TestHomesFromPath(t *testing.T) {
	cases := []struct {
		path, roaming, programData string
	}{
		{path: `C:\Users\alice\AppData\Roaming\Microsoft\SystemCertificates\My\Certificates`,
			roaming: `C:\Users\alice\AppData\Roaming`, programData: `C:\ProgramData`},
		{path: `C:/Users/alice/AppData/Roaming/Microsoft/SystemCertificates/My/Certificates/ABCD`,
			roaming: `C:/Users/alice/AppData/Roaming`, programData: `C:/ProgramData`},
		{path: "/mnt/win/Users/bob/AppData/Roaming/microsoft/systemcertificates/My/Certificates",
			roaming: "/mnt/win/Users/bob/AppData/Roaming", programData: "/mnt/win/ProgramData"},
		{path: "/Users/bob/AppData/Roaming/Microsoft/SystemCertificates/My/Certificates",
			roaming: "/Users/bob/AppData/Roaming", programData: "/ProgramData"},
		{path: "Users/bob/AppData/Roaming/Microsoft/SystemCertificates/My/Certificates",
			roaming: "Users/bob/AppData/Roaming", programData: "ProgramData"},
		{path: `D:\profiles\bob\AppData\Roaming\Microsoft\SystemCertificates\My\Certificates`,
			roaming: `D:\profiles\bob\AppData\Roaming`},
		{path: `C:\export\Microsoft\SystemCertificates\My\Certificates`},
		{path: "/tmp/x/ABCD.blob"},
		{path: ""},
	}
	for _, tc := range cases {
		h := homesFromPath(tc.path)
		assert.Equal(t, tc.roaming, h.roaming, tc.path)
		assert.Equal(t, tc.programData, h.programData, tc.path)
	}
}

// Under a live Windows store's registry path the homes come from the
// running system; on other systems (and under a root) nothing is known.
func TestRegistryHomesOffWindows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("reads this machine's ProfileList on Windows")
	}
	r := New(nil)
	assert.Equal(t, keyHomes{}, r.homes(stores.Source{SID: aliceSID}, `HKEY_USERS\`+aliceSID+`\`+UserMyKey))
	assert.Empty(t, r.machineGUID())
}

// capiContainer writes a CAPI container whose exchange pair is exPub and
// the private half exPriv (layout: see package keyfile).
func capiContainer(name string, exPub, exPriv []byte) []byte {
	nameB := append([]byte(name), 0)
	b := binary.LittleEndian.AppendUint32(nil, 2)
	// reserved, name, sigPub, sigPriv, exPub, exPriv, hash, sigFlag, exFlag
	for _, w := range []int{0, len(nameB), 0, 0, len(exPub), len(exPriv), 0, 0, 0} {
		b = binary.LittleEndian.AppendUint32(b, uint32(w))
	}
	return append(append(append(b, nameB...), exPub...), exPriv...)
}

// One reader lists a key folder once while it is unchanged, and sees a key
// file added (or removed) since.
func TestKeyFolderListingFollowsChanges(t *testing.T) {
	im := image{t: t, root: t.TempDir()}
	c := synthCert(t, "rsa.pem")
	im.write(filepath.Join(im.myStore(), thumb(c.Raw)), tw.Element(tw.Prop(2, tw.KeyProvInfo("certsight-capi", enhancedRSAAES, 24, 0, 1)), tw.Prop(32, c.Raw)))
	require.NoError(t, os.MkdirAll(im.userRSA(), 0o755))
	r := New(nil)
	state := func() stores.KeyMatch {
		res := stores.Collect(r.Read(context.Background(), stores.Source{Path: im.myStore(), SID: aliceSID}))
		require.Len(t, res.Entries, 1)
		return res.Entries[0].Key
	}
	assert.Equal(t, stores.KeyAbsent, state())
	keyFile := filepath.Join(im.userRSA(), capiName(t, "certsight-capi", synthGUID))
	im.write(keyFile, synth(t, "capi-exchange.key"))
	// A folder's modification time can have a coarse grain: make the change visible.
	later := time.Now().Add(2 * time.Second)
	require.NoError(t, os.Chtimes(im.userRSA(), later, later))
	assert.Equal(t, stores.KeyLocked, state())
	require.NoError(t, os.Remove(keyFile))
	later = later.Add(2 * time.Second)
	require.NoError(t, os.Chtimes(im.userRSA(), later, later))
	assert.Equal(t, stores.KeyAbsent, state())
}
