package winstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf16"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/windows"

	tw "github.com/certsight/certsight/internal/testwinstore"
	"github.com/certsight/certsight/stores"
)

// On Windows (no --root) a CAPI private half that DPAPI decrypts for the
// running account is checked: its primes must make the certificate's
// modulus. The containers here are protected by this machine's
// CryptProtectData (under Wine, Wine's), as the provider would.
func TestDPAPIPrivateHalfChecked(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "dpapi"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	cases := []struct {
		name string
		priv []byte
		want stores.KeyMatch
		note string
	}{
		{name: "its own private half: matched", priv: protect(t, rsa2(k)), want: stores.KeyMatched, note: "checked against the certificate"},
		{name: "another key's private half: mismatch", priv: protect(t, rsa2(other)), want: stores.KeyMismatch, note: "another key"},
		{name: "no key inside: locked, layout not understood", priv: protect(t, []byte("not a key at all")), want: stores.KeyLocked, note: "not understood"},
		{name: "not a DPAPI blob: stays locked", priv: make([]byte, 600), want: stores.KeyLocked, note: "not checked"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			im := image{t: t, root: t.TempDir()}
			im.write(filepath.Join(im.userRSA(), capiName(t, "dpapi-key", synthGUID)), capiContainer("dpapi-key", rsa1(&k.PublicKey), tc.priv))
			im.write(filepath.Join(im.myStore(), thumb(der)), tw.Element(tw.Prop(2, tw.KeyProvInfo("dpapi-key", enhancedRSAAES, 24, 0, 1)), tw.Prop(32, der)))
			res := stores.Collect(New(nil).Read(context.Background(), stores.Source{Path: im.myStore(), SID: aliceSID}))
			require.Empty(t, res.Errors)
			require.Len(t, res.Entries, 1)
			e := res.Entries[0]
			assert.Equal(t, tc.want.String(), e.Key.String(), e.KeyNote)
			assert.Contains(t, e.KeyNote, tc.note)
			assert.Equal(t, cert.Raw, e.Certificate.Raw)
			// Under --root the files are an image's: DPAPI is not used.
			res = stores.Collect(New(nil, WithRoot(im.root)).Read(context.Background(), stores.Source{Path: im.myStore(), SID: aliceSID}))
			require.Len(t, res.Entries, 1)
			assert.Equal(t, stores.KeyLocked, res.Entries[0].Key, res.Entries[0].KeyNote)
			require.NoError(t, os.RemoveAll(filepath.Join(im.root, "Users")))
		})
	}
}

// protect DPAPI-encrypts plain for the running account.
func protect(t *testing.T, plain []byte) []byte { return protectWith(t, plain, nil) }

// protectWith DPAPI-encrypts plain with entropy for the running account.
func protectWith(t *testing.T, plain, entropy []byte) []byte {
	t.Helper()
	in := windows.DataBlob{Size: uint32(len(plain)), Data: &plain[0]}
	var ent *windows.DataBlob
	if len(entropy) > 0 {
		ent = &windows.DataBlob{Size: uint32(len(entropy)), Data: &entropy[0]}
	}
	var out windows.DataBlob
	require.NoError(t, windows.CryptProtectData(&in, nil, ent, 0, nil, windows.CRYPTPROTECT_UI_FORBIDDEN, &out))
	defer windows.LocalFree(windows.Handle(unsafe.Pointer(out.Data)))
	return append([]byte(nil), unsafe.Slice(out.Data, out.Size)...)
}

// le writes n little-endian in size bytes.
func le(n *big.Int, size int) []byte {
	b := make([]byte, size)
	be := n.Bytes()
	for i, x := range be {
		b[len(be)-1-i] = x
	}
	return b
}

// rsa1 and rsa2 write the provider's public and private key blobs (layouts:
// see package keyfile).
func rsa1(pub *rsa.PublicKey) []byte {
	bits := pub.N.BitLen()
	out := []byte("RSA1")
	for _, w := range []int{bits/8 + 8, bits, bits/8 - 1, pub.E} {
		out = binary.LittleEndian.AppendUint32(out, uint32(w))
	}
	return append(out, le(pub.N, bits/8+8)...)
}

func rsa2(k *rsa.PrivateKey) []byte {
	bits := k.N.BitLen()
	n := bits/8 + 8
	out := []byte("RSA2")
	for _, w := range []int{n, bits, bits/8 - 1, k.E} {
		out = binary.LittleEndian.AppendUint32(out, uint32(w))
	}
	out = append(out, le(k.N, n)...)
	for _, v := range []*big.Int{k.Primes[0], k.Primes[1], k.Precomputed.Dp, k.Precomputed.Dq, k.Precomputed.Qinv} {
		out = append(out, le(v, n/2)...)
	}
	return append(out, le(k.D, n)...)
}

// A CNG key file's private key, DPAPI-protected with the "Private Key"
// entropy, is checked the same way on Windows itself.
func TestDPAPICNGPrivateKeyChecked(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(8), Subject: pkix.Name{CommonName: "dpapi cng"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(t, err)
	entropy := []byte("xT5rZW5qVVbrvpuA\x00")
	cases := []struct {
		name string
		priv []byte
		want stores.KeyMatch
	}{
		{name: "its own key: matched", priv: protectWith(t, eccPrivate(k), entropy), want: stores.KeyMatched},
		{name: "another key: mismatch", priv: protectWith(t, eccPrivate(other), entropy), want: stores.KeyMismatch},
		{name: "protected without the entropy: locked", priv: protect(t, eccPrivate(k)), want: stores.KeyLocked},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			im := image{t: t, root: t.TempDir()}
			im.write(filepath.Join(im.userCNG(), cngName(t, "dpapi-cng", synthGUID)), cngFile("dpapi-cng", eccPublic(k), tc.priv))
			im.write(filepath.Join(im.myStore(), thumb(der)), tw.Element(tw.Prop(2, tw.KeyProvInfo("dpapi-cng", softwareKSP, 0, 0, 0)), tw.Prop(32, der)))
			res := stores.Collect(New(nil).Read(context.Background(), stores.Source{Path: im.myStore(), SID: aliceSID}))
			require.Empty(t, res.Errors)
			require.Len(t, res.Entries, 1)
			assert.Equal(t, tc.want.String(), res.Entries[0].Key.String(), res.Entries[0].KeyNote)
		})
	}
}

// eccPublic and eccPrivate write BCRYPT_ECCPUBLIC_BLOB and
// BCRYPT_ECCPRIVATE_BLOB for a P-256 key.
func eccPublic(k *ecdsa.PrivateKey) []byte {
	raw, err := k.PublicKey.Bytes()
	if err != nil {
		panic(err)
	}
	return append(binary.LittleEndian.AppendUint32([]byte("ECS1"), 32), raw[1:]...)
}

func eccPrivate(k *ecdsa.PrivateKey) []byte {
	out := eccPublic(k)
	copy(out, "ECS2")
	return append(out, k.D.FillBytes(make([]byte, 32))...)
}

// cngFile writes a CNG key file with one clear property holding pub and the
// private key blob priv (layout: see package keyfile).
func cngFile(name string, pub, priv []byte) []byte {
	u16 := func(s string) []byte {
		var b []byte
		for _, c := range utf16.Encode([]rune(s)) {
			b = binary.LittleEndian.AppendUint16(b, c)
		}
		return b
	}
	pn := u16("Public Key")
	prop := binary.LittleEndian.AppendUint32(nil, uint32(20+len(pn)+len(pub)))
	for _, w := range []int{0, 0, len(pn), len(pub)} {
		prop = binary.LittleEndian.AppendUint32(prop, uint32(w))
	}
	prop = append(append(prop, pn...), pub...)
	nb := u16(name + "\x00")
	out := binary.LittleEndian.AppendUint32(nil, 1)
	out = binary.LittleEndian.AppendUint32(out, 0)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(nb)))
	out = binary.LittleEndian.AppendUint16(out, 4)
	out = binary.LittleEndian.AppendUint16(out, 1)
	for _, w := range []int{len(prop), 0, len(priv)} {
		out = binary.LittleEndian.AppendUint32(out, uint32(w))
	}
	out = append(out, make([]byte, 44-len(out))...)
	return append(append(append(out, nb...), prop...), priv...)
}
