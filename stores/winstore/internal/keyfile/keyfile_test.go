package keyfile

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"math/big"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/internal/testtool"
)

func TestFileHashes(t *testing.T) {
	cases := []struct {
		name, key, want string
		cng, ok         bool
	}{
		// Published with the derivation (Michel Gallant, "CryptoAPI
		// Keycontainer and UniqueKeyContainer Files").
		{name: "CAPI, published example", key: "MyCoolContainer", want: "52ab417621a9d74c73e3e0f1bc374e0a", ok: true},
		{name: "CAPI hashes the lower-cased name", key: "mycoolcontainer", want: "52ab417621a9d74c73e3e0f1bc374e0a", ok: true},
		{name: "CAPI, non-ASCII name depends on the code page", key: "clé", ok: false},
		// Key names and file names seen on Windows 11 machines (dissect.target's
		// CNG fixtures; the second also in another machine's listing).
		{name: "CNG, Chrome's system key", key: "Google Chromekey1", want: "7096db7aeb75c0d3497ecd56d355a695", cng: true, ok: true},
		{name: "CNG, device certificate key", key: "Microsoft Connected Devices Platform device certificate",
			want: "de7cf8a7901d2ad13e5c67c29e5d1662", cng: true, ok: true},
		{name: "CNG, non-ASCII name", key: "ключ", cng: true, ok: false},
		{name: "embedded NUL", key: "a\x00b", ok: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			var ok bool
			if tc.cng {
				got, ok = CNGFileHash(tc.key)
			} else {
				got, ok = CAPIFileHash(tc.key)
			}
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseSynthesizedCAPI(t *testing.T) {
	rsaCert := synthCert(t, "rsa.pem")
	otherCert := synthCert(t, "other.pem")
	cases := []struct {
		file, name  string
		spec        uint32
		wantPub     any
		wantPrivate bool
	}{
		{file: "capi-exchange.key", name: "certsight-capi", spec: 1, wantPub: rsaCert.PublicKey, wantPrivate: true},
		{file: "capi-signature-other.key", name: "certsight-other", spec: 2, wantPub: otherCert.PublicKey, wantPrivate: true},
		{file: "capi-public-only.key", name: "certsight-public", spec: 1, wantPub: rsaCert.PublicKey},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			c, err := ParseCAPI(readSynth(t, tc.file))
			require.NoError(t, err)
			assert.Equal(t, tc.name, c.Name)
			pair, ok := c.Pair(tc.spec)
			require.True(t, ok)
			assert.Equal(t, tc.wantPrivate, pair.Present())
			pub, err := ParseCAPIPublicKey(pair.Public)
			require.NoError(t, err)
			assert.True(t, pub.Equal(tc.wantPub), "public half is the certificate's")
			other, _ := c.Pair(3 - tc.spec)
			assert.Empty(t, other.Public, "the other pair is empty")
			assert.False(t, other.Present())
		})
	}
}

func TestParseSynthesizedCNG(t *testing.T) {
	cases := []struct {
		file, name string
		cert       string // whose key the file's public half is; "" for none
		private    bool
	}{
		{file: "cng-ecdsa.key", name: "certsight-cng", cert: "ec.pem", private: true},
		{file: "cng-rsa.key", name: "certsight-cng-rsa", cert: "rsa.pem", private: true},
		{file: "cng-no-public.key", name: "certsight-cng-bare", private: true},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			k, err := ParseCNG(readSynth(t, tc.file))
			require.NoError(t, err)
			assert.Equal(t, tc.name, k.Name)
			assert.Equal(t, tc.private, len(k.PrivateKey) > 0)
			pub, err := k.PublicKey()
			if tc.cert == "" {
				require.ErrorIs(t, err, ErrNoPublicKey)
				return
			}
			require.NoError(t, err)
			assert.True(t, pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(synthCert(t, tc.cert).PublicKey))
		})
	}
}

// TestCAPIModulusByteOrderMatchesOpenSSL checks the little-endian modulus
// against a real writer of Microsoft's RSA1 layout: openssl's MSBLOB of a
// fresh key must decode, through the container's public key form, to the
// key openssl prints.
func TestCAPIModulusByteOrderMatchesOpenSSL(t *testing.T) {
	openssl := testtool.Need(t, "openssl")
	dir := t.TempDir()
	key := filepath.Join(dir, "k.pem")
	run := func(args ...string) []byte {
		out, err := exec.Command(openssl, args...).Output()
		require.NoError(t, err, "openssl %v", args)
		return out
	}
	for _, bits := range []string{"1024", "3072"} {
		run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:"+bits, "-out", key)
		blob := run("rsa", "-in", key, "-pubout", "-outform", "MSBLOB")
		mod := strings.TrimSpace(strings.TrimPrefix(string(run("rsa", "-in", key, "-noout", "-modulus")), "Modulus="))
		pub, err := ParseCAPIPublicKey(capiPublicFromMSBLOB(t, blob))
		require.NoError(t, err)
		assert.Equal(t, mod, strings.ToUpper(pub.N.Text(16)), "%s-bit modulus", bits)
		assert.Equal(t, 65537, pub.E)
	}
}

func TestParseCAPIRefusesDamage(t *testing.T) {
	good := readSynth(t, "capi-exchange.key")
	set := func(off int, v uint32) []byte {
		b := append([]byte(nil), good...)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{name: "empty", data: nil, want: "shorter than its"},
		{name: "version 1", data: set(0, 1), want: "format version 1"},
		{name: "name runs past the end", data: set(8, 0xffffffff), want: "overrun"},
		{name: "truncated", data: good[:len(good)-1], want: "overrun"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCAPI(tc.data)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseCAPIPublicKeyRefusesDamage(t *testing.T) {
	c, err := ParseCAPI(readSynth(t, "capi-exchange.key"))
	require.NoError(t, err)
	good := c.Exchange.Public
	set := func(off int, v uint32) []byte {
		b := append([]byte(nil), good...)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	padding := append([]byte(nil), good...)
	padding[len(padding)-1] = 1
	cases := []struct {
		name string
		blob []byte
		want string
		alg  bool
	}{
		{name: "DSS key", blob: append([]byte("DSS1"), good[4:]...), alg: true},
		{name: "short header", blob: good[:12], want: "shorter than"},
		{name: "bit length not a byte multiple", blob: set(8, 2047), want: "2047-bit"},
		{name: "bit length too large", blob: set(8, 1<<20), want: "bit modulus"},
		{name: "buffer past the blob", blob: set(4, 0xffffff), want: "modulus buffer"},
		{name: "buffer shorter than the modulus", blob: set(4, 8), want: "modulus buffer"},
		{name: "padding not zero", blob: padding, want: "past the modulus"},
		{name: "bit length larger than the modulus", blob: set(8, 2048+64), want: "modulus"},
		{name: "even exponent", blob: set(16, 65536), want: "exponent"},
		{name: "exponent 1", blob: set(16, 1), want: "exponent"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCAPIPublicKey(tc.blob)
			require.Error(t, err)
			if tc.alg {
				assert.True(t, errors.Is(err, ErrUnsupportedKey))
				return
			}
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseCNGRefusesDamage(t *testing.T) {
	good := readSynth(t, "cng-ecdsa.key")
	set := func(off int, v uint32) []byte {
		b := append([]byte(nil), good...)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	nameLen := int(binary.LittleEndian.Uint32(good[8:]))
	firstProp := cngHeaderSize + nameLen
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{name: "short", data: good[:43], want: "shorter than"},
		{name: "version 2", data: set(0, 2), want: "format version 2"},
		{name: "too many sections", data: set(12, 6<<16), want: "6 property sections"},
		{name: "section past the end", data: set(16, 0x7fffffff), want: "overrun"},
		{name: "truncated", data: good[:len(good)-1], want: "overrun"},
		{name: "property of size 0", data: set(firstProp, 0), want: "size 0"},
		{name: "property longer than its section", data: set(firstProp, 0xffff), want: "size 65535"},
		{name: "property value longer than the property", data: set(firstProp+16, 0xff), want: "255-byte value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCNG(tc.data)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseBCryptPublicKey(t *testing.T) {
	ecPub := synthCert(t, "ec.pem").PublicKey.(*ecdsa.PublicKey)
	rsaPub := synthCert(t, "rsa.pem").PublicKey.(*rsa.PublicKey)
	ecBlob := BCryptECCPublic(ecPub)
	rsaBlob := BCryptRSAPublic(rsaPub)
	offCurve := append([]byte(nil), ecBlob...)
	offCurve[len(offCurve)-1] ^= 1
	withPrimes := append([]byte(nil), rsaBlob...)
	binary.LittleEndian.PutUint32(withPrimes[16:], 128)
	p384 := append([]byte("ECS3"), ecBlob[4:]...)
	cases := []struct {
		name     string
		blob     []byte
		want     any
		notBlob  bool
		contains string
	}{
		{name: "ECDSA P-256", blob: ecBlob, want: ecPub},
		{name: "ECDH P-256 magic, same point", blob: append([]byte("ECK1"), ecBlob[4:]...), want: ecPub},
		{name: "RSA", blob: rsaBlob, want: rsaPub},
		{name: "point off the curve", blob: offCurve, contains: "ECS1"},
		{name: "P-384 magic with P-256 coordinates", blob: p384, contains: "coordinate length"},
		{name: "trailing byte", blob: append(append([]byte(nil), rsaBlob...), 0), contains: "modulus"},
		{name: "RSA private blob", blob: withPrimes, contains: "primes"},
		{name: "another magic", blob: append([]byte("KDBM"), ecBlob[4:]...), notBlob: true},
		{name: "too short", blob: []byte("RSA1"), notBlob: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pub, err := ParseBCryptPublicKey(tc.blob)
			switch {
			case tc.notBlob:
				require.ErrorIs(t, err, errNotBCrypt)
			case tc.contains != "":
				require.Error(t, err)
				assert.NotErrorIs(t, err, errNotBCrypt)
				assert.Contains(t, err.Error(), tc.contains)
			default:
				require.NoError(t, err)
				assert.True(t, pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(tc.want))
			}
		})
	}
}

// capiPrivateBlob writes the plaintext of a CAPI private half ("RSA2") for
// k, in the layout ParseCAPIPrivateKey documents.
func capiPrivateBlob(k *rsa.PrivateKey) []byte {
	bits := k.N.BitLen()
	bufLen := bits/8 + 8
	le := func(n *big.Int, size int) []byte {
		b := make([]byte, size)
		be := n.Bytes()
		for i, x := range be {
			b[len(be)-1-i] = x
		}
		return b
	}
	out := []byte("RSA2")
	for _, w := range []int{bufLen, bits, bits/8 - 1, k.E} {
		out = binary.LittleEndian.AppendUint32(out, uint32(w))
	}
	out = append(out, le(k.N, bufLen)...)
	for _, v := range []*big.Int{k.Primes[0], k.Primes[1], k.Precomputed.Dp, k.Precomputed.Dq, k.Precomputed.Qinv} {
		out = append(out, le(v, bufLen/2)...)
	}
	return append(out, le(k.D, bufLen)...)
}

func TestParseCAPIPrivateKey(t *testing.T) {
	k1, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	k2, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	good := capiPrivateBlob(k1)
	set := func(off int, v uint32) []byte {
		b := append([]byte(nil), good...)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	cases := []struct {
		name    string
		blob    []byte
		pub     *rsa.PublicKey
		belongs bool
		err     string
	}{
		{name: "its own key", blob: good, pub: &k1.PublicKey, belongs: true},
		{name: "another certificate's key", blob: good, pub: &k2.PublicKey},
		{name: "primes of another key beside this modulus", pub: &k1.PublicKey,
			blob: append(good[:20+1024/8+8:20+1024/8+8], capiPrivateBlob(k2)[20+1024/8+8:]...)},
		{name: "a public blob", blob: append([]byte("RSA1"), good[4:]...), err: "not an RSA2 blob"},
		{name: "cut", blob: good[:100], err: "too short"},
		{name: "bit length past the buffer", blob: set(8, 4096), err: "4096-bit key"},
		{name: "odd buffer", blob: set(4, 1024/8+9), err: "buffer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseCAPIPrivateKey(tc.blob)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.belongs, k.Belongs(tc.pub))
		})
	}
}

// bcryptRSAPrivate and bcryptECCPrivate write BCRYPT_RSAPRIVATE_BLOB and
// BCRYPT_ECCPRIVATE_BLOB (P-256) for k.
func bcryptRSAPrivate(k *rsa.PrivateKey) []byte {
	e := big32(k.E)
	n, p, q := k.N.Bytes(), k.Primes[0].Bytes(), k.Primes[1].Bytes()
	out := []byte("RSA2")
	for _, w := range []int{k.N.BitLen(), len(e), len(n), len(p), len(q)} {
		out = binary.LittleEndian.AppendUint32(out, uint32(w))
	}
	for _, b := range [][]byte{e, n, p, q} {
		out = append(out, b...)
	}
	return out
}

func bcryptECCPrivate(k *ecdsa.PrivateKey) []byte {
	out := BCryptECCPublic(&k.PublicKey)
	copy(out, "ECS2")
	d := k.D.FillBytes(make([]byte, 32))
	return append(out, d...)
}

func TestCNGPrivateBelongs(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	rk2, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ek2, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	cases := []struct {
		name    string
		plain   []byte
		pub     crypto.PublicKey
		belongs bool
		err     bool
	}{
		{name: "RSA, its own key", plain: bcryptRSAPrivate(rk), pub: &rk.PublicKey, belongs: true},
		{name: "RSA, another key", plain: bcryptRSAPrivate(rk2), pub: &rk.PublicKey},
		{name: "RSA key for an EC certificate", plain: bcryptRSAPrivate(rk), pub: &ek.PublicKey},
		{name: "ECC, its own key", plain: bcryptECCPrivate(ek), pub: &ek.PublicKey, belongs: true},
		{name: "ECC, another key", plain: bcryptECCPrivate(ek2), pub: &ek.PublicKey},
		{name: "ECC inside a property record", plain: prop("Private Key", bcryptECCPrivate(ek)), pub: &ek.PublicKey, belongs: true},
		{name: "a public blob is no private key", plain: BCryptECCPublic(&ek.PublicKey), pub: &ek.PublicKey, err: true},
		{name: "junk", plain: []byte("not a key at all"), pub: &ek.PublicKey, err: true},
		{name: "RSA lengths past the end", plain: bcryptRSAPrivate(rk)[:100], pub: &rk.PublicKey, err: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := CNGPrivateBelongs(tc.plain, tc.pub)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.belongs, ok)
		})
	}
}
