package keyfile

import (
	"bytes"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
)

// MaxFileSize caps a key file. A CAPI container with two 16384-bit pairs is
// about 9 KiB; a CNG file with a few properties a few KiB.
const MaxFileSize = 64 << 10

// capiVersion is the container file format that every Windows since 2000
// writes (CAPI's KEY_CONTAINER_FILE_FORMAT_VER); version 1 predates it and
// has another layout.
const capiVersion = 2

// capiHeaderSize is the fixed header: ten little-endian words.
const capiHeaderSize = 40

// CAPIKeyPair is one key pair of a container.
type CAPIKeyPair struct {
	// Public is the stored public key blob (PublicKey decodes it).
	Public []byte
	// Private is the DPAPI blob that holds the private half; empty when
	// the container holds no private key for this pair.
	Private []byte
}

// Present reports whether the pair holds a private key.
func (p CAPIKeyPair) Present() bool { return len(p.Private) > 0 }

// CAPIContainer is what a CAPI key container file says in the clear.
type CAPIContainer struct {
	// Name is the container name the file was created for (stored as a
	// NUL-terminated ANSI string).
	Name string
	// Signature is the AT_SIGNATURE pair, Exchange the AT_KEYEXCHANGE pair.
	Signature, Exchange CAPIKeyPair
}

// Pair returns the pair of a CRYPT_KEY_PROV_INFO key spec: 1 is
// AT_KEYEXCHANGE, 2 AT_SIGNATURE.
func (c *CAPIContainer) Pair(keySpec uint32) (CAPIKeyPair, bool) {
	switch keySpec {
	case 1:
		return c.Exchange, true
	case 2:
		return c.Signature, true
	}
	return CAPIKeyPair{}, false
}

// ParseCAPI parses a CAPI key container file:
//
//	u32 version (2), u32 reserved, u32 nameLen,
//	u32 sigPublicLen, u32 sigPrivateLen, u32 exchPublicLen, u32 exchPrivateLen,
//	u32 hashLen, u32 sigExportFlagLen, u32 exchExportFlagLen,
//	name, hash, sigPublic, sigPrivate, sigExportFlag,
//	exchPublic, exchPrivate, exchExportFlag
//
// all little-endian. The private halves and export flags are DPAPI blobs and
// are not looked into. The sections must fit in data.
func ParseCAPI(data []byte) (*CAPIContainer, error) {
	if len(data) < capiHeaderSize {
		return nil, fmt.Errorf("CAPI key container: %d bytes, shorter than its %d-byte header", len(data), capiHeaderSize)
	}
	w := func(i int) uint64 { return uint64(binary.LittleEndian.Uint32(data[4*i:])) }
	if v := w(0); v != capiVersion {
		return nil, fmt.Errorf("CAPI key container: format version %d, want %d", v, capiVersion)
	}
	nameLen, sigPub, sigPriv, exPub, exPriv, hashLen, sigFlag, exFlag := w(2), w(3), w(4), w(5), w(6), w(7), w(8), w(9)
	// In file order; the sum of eight 32-bit lengths cannot overflow uint64.
	lens := []uint64{nameLen, hashLen, sigPub, sigPriv, sigFlag, exPub, exPriv, exFlag}
	var total uint64
	for _, n := range lens {
		total += n
	}
	if total > uint64(len(data)-capiHeaderSize) {
		return nil, fmt.Errorf("CAPI key container: sections of %d bytes overrun the %d bytes after the header", total, len(data)-capiHeaderSize)
	}
	sec := make([][]byte, len(lens))
	off := uint64(capiHeaderSize)
	for i, n := range lens {
		sec[i] = data[off : off+n]
		off += n
	}
	name := sec[0]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	return &CAPIContainer{
		Name:      string(name),
		Signature: CAPIKeyPair{Public: sec[2], Private: sec[3]},
		Exchange:  CAPIKeyPair{Public: sec[5], Private: sec[6]},
	}, nil
}

// ErrUnsupportedKey is returned for a public key blob of another algorithm
// (a DSS or DH container, an unknown CNG magic): it is not compared.
var ErrUnsupportedKey = errors.New("public key of an algorithm that is not compared")

// Bounds on RSA keys: Windows' providers accept 384 to 16384 bits.
const (
	minRSABits = 384
	maxRSABits = 16384
)

// ParseCAPIPublicKey decodes the public key blob of a CAPI container, the
// provider's internal RSA public key:
//
//	"RSA1", u32 modulusBufLen, u32 bitLen, u32 maxDataLen, u32 publicExponent,
//	modulus (modulusBufLen bytes, little-endian, zero-padded)
//
// modulusBufLen is bitLen/8 plus padding (8 bytes as written); the bytes
// past bitLen/8 must be zero and the modulus must have exactly bitLen bits.
func ParseCAPIPublicKey(blob []byte) (*rsa.PublicKey, error) {
	const head = 20
	if len(blob) < 4 {
		return nil, fmt.Errorf("CAPI public key: %d bytes", len(blob))
	}
	if string(blob[:4]) != "RSA1" {
		return nil, fmt.Errorf("%w: magic %q", ErrUnsupportedKey, blob[:4])
	}
	if len(blob) < head {
		return nil, fmt.Errorf("CAPI public key: %d bytes, shorter than its %d-byte header", len(blob), head)
	}
	bufLen := uint64(binary.LittleEndian.Uint32(blob[4:]))
	bits := uint64(binary.LittleEndian.Uint32(blob[8:]))
	exp := binary.LittleEndian.Uint32(blob[16:])
	if bits < minRSABits || bits > maxRSABits || bits%8 != 0 {
		return nil, fmt.Errorf("CAPI public key: %d-bit modulus", bits)
	}
	if bufLen < bits/8 || bufLen > uint64(len(blob)-head) {
		return nil, fmt.Errorf("CAPI public key: modulus buffer of %d bytes for a %d-bit key in a %d-byte blob", bufLen, bits, len(blob))
	}
	mod := blob[head : head+bufLen]
	for _, b := range mod[bits/8:] {
		if b != 0 {
			return nil, errors.New("CAPI public key: non-zero bytes past the modulus")
		}
	}
	n := new(big.Int).SetBytes(reversed(mod[:bits/8]))
	if uint64(n.BitLen()) != bits {
		return nil, fmt.Errorf("CAPI public key: modulus has %d bits, header says %d", n.BitLen(), bits)
	}
	if exp < 3 || exp%2 == 0 || exp > 1<<31-1 {
		return nil, fmt.Errorf("CAPI public key: public exponent %d", exp)
	}
	return &rsa.PublicKey{N: n, E: int(exp)}, nil
}

func reversed(b []byte) []byte {
	out := make([]byte, len(b))
	for i, x := range b {
		out[len(b)-1-i] = x
	}
	return out
}

// CAPIPrivateKey is what a decrypted private half holds that a check needs:
// the modulus and the two primes. It is dropped as soon as checked.
type CAPIPrivateKey struct {
	N, P, Q *big.Int
}

// ParseCAPIPrivateKey decodes the plaintext of a container's private half
// (what DPAPI gives back), the provider's internal RSA private key:
//
//	"RSA2", u32 bufLen, u32 bitLen, u32 maxDataLen, u32 publicExponent,
//	modulus[bufLen], prime1[bufLen/2], prime2[bufLen/2], exponent1[bufLen/2],
//	exponent2[bufLen/2], coefficient[bufLen/2], privateExponent[bufLen]
//
// numbers little-endian and zero-padded. Only the modulus and primes are
// decoded.
func ParseCAPIPrivateKey(plain []byte) (*CAPIPrivateKey, error) {
	const head = 20
	if len(plain) < head || string(plain[:4]) != "RSA2" {
		return nil, errors.New("CAPI private key: not an RSA2 blob")
	}
	bufLen := uint64(binary.LittleEndian.Uint32(plain[4:]))
	bits := uint64(binary.LittleEndian.Uint32(plain[8:]))
	if bits < minRSABits || bits > maxRSABits || bits%16 != 0 || bufLen < bits/8 || bufLen%2 != 0 {
		return nil, fmt.Errorf("CAPI private key: %d-bit key in a %d-byte buffer", bits, bufLen)
	}
	if uint64(len(plain)-head) < 2*bufLen {
		return nil, fmt.Errorf("CAPI private key: %d bytes, too short for a %d-byte modulus and its primes", len(plain), bufLen)
	}
	num := func(off, n uint64) *big.Int { return new(big.Int).SetBytes(reversed(plain[head+off : head+off+n])) }
	return &CAPIPrivateKey{
		N: num(0, bufLen),
		P: num(bufLen, bufLen/2),
		Q: num(bufLen+bufLen/2, bufLen/2),
	}, nil
}

// Belongs reports whether the private key is the one of pub: its primes
// multiply to pub's modulus (and to its own), neither being 1.
func (k *CAPIPrivateKey) Belongs(pub *rsa.PublicKey) bool {
	one := big.NewInt(1)
	if k.P.Cmp(one) <= 0 || k.Q.Cmp(one) <= 0 {
		return false
	}
	n := new(big.Int).Mul(k.P, k.Q)
	return n.Cmp(pub.N) == 0 && n.Cmp(k.N) == 0
}
