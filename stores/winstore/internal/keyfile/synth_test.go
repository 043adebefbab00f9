package keyfile

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/require"
)

// The key files in testdata/synth are written by this generator from the
// documented layouts (see the package documentation): no key file written
// by Windows was available. Their keys and certificates come from openssl
// (testdata/synth/make.sh), and the CAPI modulus bytes from openssl's own
// PUBLICKEYBLOB (MSBLOB) output. Rewrite them with
//
//	go test ./stores/winstore/internal/keyfile -run TestSynthesizedFiles -update
var update = flag.Bool("update", false, "rewrite testdata/synth key files")

// SynthMachineGUID is the MachineGuid part of synthesized file names.
const SynthMachineGUID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"

// synthFiles are the synthesized key files: name in testdata/synth → bytes.
func synthFiles(t testing.TB) map[string][]byte {
	rsaPub := capiPublicFromMSBLOB(t, readSynth(t, "rsa.msblob"))
	otherPub := capiPublicFromMSBLOB(t, readSynth(t, "other.msblob"))
	ecKey := synthCert(t, "ec.pem").PublicKey.(*ecdsa.PublicKey)
	rsaKey := synthCert(t, "rsa.pem").PublicKey.(*rsa.PublicKey)
	modified := prop("Modified", []byte{0x00, 0x80, 0x3e, 0xd5, 0xde, 0xb1, 0xd9, 0x01})
	return map[string][]byte{
		// The certificate's key as the exchange pair (what certreq and
		// PFX import make for a client certificate).
		"capi-exchange.key": CAPIFile("certsight-capi", nil, 0, rsaPub, 1200),
		// Another key as the signature pair.
		"capi-signature-other.key": CAPIFile("certsight-other", otherPub, 1200, nil, 0),
		// A public half without a private half.
		"capi-public-only.key": CAPIFile("certsight-public", nil, 0, rsaPub, 0),
		"cng-ecdsa.key":        CNGFile("certsight-cng", [][]byte{modified, prop("Public Key", BCryptECCPublic(ecKey))}, 300, 330),
		"cng-rsa.key":          CNGFile("certsight-cng-rsa", [][]byte{prop("Public Key", BCryptRSAPublic(rsaKey)), modified}, 300, 1300),
		"cng-no-public.key":    CNGFile("certsight-cng-bare", [][]byte{modified}, 300, 330),
	}
}

func TestSynthesizedFiles(t *testing.T) {
	for name, data := range synthFiles(t) {
		p := filepath.Join("testdata", "synth", name)
		if *update {
			require.NoError(t, os.WriteFile(p, data, 0o644))
			continue
		}
		got, err := os.ReadFile(p)
		require.NoError(t, err)
		require.True(t, bytes.Equal(data, got), "%s differs from what the generator writes (run with -update)", name)
	}
}

func readSynth(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "synth", name))
	require.NoError(t, err)
	return b
}

func synthCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(readSynth(t, name))
	require.NotNil(t, blk)
	c, err := x509.ParseCertificate(blk.Bytes)
	require.NoError(t, err)
	return c
}

// capiPublicFromMSBLOB turns a PUBLICKEYBLOB (8-byte BLOBHEADER, "RSA1",
// bitLen, exponent, little-endian modulus) into the CAPI container's form
// ("RSA1", bufLen, bitLen, bitLen/8-1, exponent, modulus + 8 zero bytes).
func capiPublicFromMSBLOB(t testing.TB, blob []byte) []byte {
	t.Helper()
	require.GreaterOrEqual(t, len(blob), 20)
	require.Equal(t, "RSA1", string(blob[8:12]))
	bits := binary.LittleEndian.Uint32(blob[12:])
	exp := binary.LittleEndian.Uint32(blob[16:])
	mod := blob[20:]
	require.Len(t, mod, int(bits/8))
	out := []byte("RSA1")
	for _, w := range []uint32{bits/8 + 8, bits, bits/8 - 1, exp} {
		out = binary.LittleEndian.AppendUint32(out, w)
	}
	out = append(out, mod...)
	return append(out, make([]byte, 8)...)
}

// dpapiBlob stands in for a DPAPI blob of n bytes: the DPAPI header (version
// 1, provider {df9d8cd0-1501-11d1-8c7a-00c04fc297eb}) and filler. Nothing
// reads into it.
func dpapiBlob(n int) []byte {
	if n == 0 {
		return nil
	}
	b := []byte{1, 0, 0, 0, 0xd0, 0x8c, 0x9d, 0xdf, 0x01, 0x15, 0xd1, 0x11, 0x8c, 0x7a, 0x00, 0xc0, 0x4f, 0xc2, 0x97, 0xeb}
	for i := len(b); i < n; i++ {
		b = append(b, byte(i*7))
	}
	return b[:n]
}

// CAPIFile writes a CAPI key container in the documented layout.
func CAPIFile(name string, sigPub []byte, sigPriv int, exPub []byte, exPriv int) []byte {
	flag := func(priv int) []byte {
		if priv == 0 {
			return nil
		}
		return dpapiBlob(130)
	}
	nameB := append([]byte(name), 0)
	hash := make([]byte, 20)
	secs := [][]byte{nameB, hash, sigPub, dpapiBlob(sigPriv), flag(sigPriv), exPub, dpapiBlob(exPriv), flag(exPriv)}
	out := binary.LittleEndian.AppendUint32(nil, capiVersion)
	out = binary.LittleEndian.AppendUint32(out, 0)
	// Header order: name, sigPub, sigPriv, exPub, exPriv, hash, sigFlag, exFlag.
	for _, i := range []int{0, 2, 3, 5, 6, 1, 4, 7} {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(secs[i])))
	}
	for _, s := range secs {
		out = append(out, s...)
	}
	return out
}

// CNGFile writes a CNG key file with one clear section of props.
func CNGFile(name string, props [][]byte, privProps, privKey int) []byte {
	nameB := utf16le(name + "\x00")
	section := bytes.Join(props, nil)
	out := binary.LittleEndian.AppendUint32(nil, cngVersion)
	out = binary.LittleEndian.AppendUint32(out, 0)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(nameB)))
	out = binary.LittleEndian.AppendUint16(out, 4) // type, as in a user's ECC key
	out = binary.LittleEndian.AppendUint16(out, 1) // one clear section
	for _, n := range []int{len(section), privProps, privKey} {
		out = binary.LittleEndian.AppendUint32(out, uint32(n))
	}
	out = append(out, make([]byte, cngHeaderSize-len(out))...)
	out = append(out, nameB...)
	out = append(out, section...)
	out = append(out, dpapiBlob(privProps)...)
	return append(out, dpapiBlob(privKey)...)
}

// prop writes one clear CNG property record.
func prop(name string, value []byte) []byte {
	n := utf16le(name)
	out := binary.LittleEndian.AppendUint32(nil, uint32(cngPropertyHeader+len(n)+len(value)))
	out = binary.LittleEndian.AppendUint32(out, 0)
	out = binary.LittleEndian.AppendUint32(out, 0)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(n)))
	out = binary.LittleEndian.AppendUint32(out, uint32(len(value)))
	return append(append(out, n...), value...)
}

// BCryptECCPublic writes a BCRYPT_ECCPUBLIC_BLOB for a P-256 key.
func BCryptECCPublic(k *ecdsa.PublicKey) []byte {
	raw, err := k.Bytes() // 04 || X || Y
	if err != nil {
		panic(err)
	}
	size := (len(raw) - 1) / 2
	out := binary.LittleEndian.AppendUint32([]byte("ECS1"), uint32(size))
	return append(out, raw[1:]...)
}

// BCryptRSAPublic writes a BCRYPT_RSAPUBLIC_BLOB.
func BCryptRSAPublic(k *rsa.PublicKey) []byte {
	e := big32(k.E)
	n := k.N.Bytes()
	out := []byte("RSA1")
	for _, w := range []int{k.N.BitLen(), len(e), len(n), 0, 0} {
		out = binary.LittleEndian.AppendUint32(out, uint32(w))
	}
	return append(append(out, e...), n...)
}

func big32(e int) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(e))
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

func utf16le(s string) []byte {
	var out []byte
	for _, c := range utf16.Encode([]rune(s)) {
		out = binary.LittleEndian.AppendUint16(out, c)
	}
	return out
}
