package keyfile

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/certsight/certsight/stores/winstore/internal/winstr"
)

// cngVersion is the only CNG key file version seen.
const cngVersion = 1

// cngHeaderSize is the fixed header: version, flags, nameLen, u16 type,
// u16 sectionCount, then seven words: the clear section lengths, the
// private-properties length and the private-key length, left-aligned, the
// rest unused.
const cngHeaderSize = 44

// maxPublicSections is how many clear sections fit in the header's seven
// length words beside the two private lengths.
const maxPublicSections = 5

// CNGProperty is one clear property of a CNG key file.
type CNGProperty struct {
	Name  string
	Value []byte
}

// CNGKey is what a CNG key file says in the clear.
type CNGKey struct {
	// Name is the key name the file was created for (UTF-16LE).
	Name string
	// Properties are the clear ("public") properties, in file order.
	Properties []CNGProperty
	// PrivatePropertiesLen is the length of the DPAPI blob of private
	// properties; PrivateKey the DPAPI blob of the private key, empty when
	// the file holds none.
	PrivatePropertiesLen int
	PrivateKey           []byte
}

// ParseCNG parses a CNG key file:
//
//	u32 version (1), u32 flags, u32 nameLen, u16 type, u16 sections,
//	u32 sectionLen[sections], u32 privatePropertiesLen, u32 privateKeyLen,
//	(padding to 44 bytes), name (UTF-16LE), section..., privateProperties,
//	privateKey
//
// Each clear section is a run of properties {u32 size, u32 type, u32
// reserved, u32 nameLen, u32 valueLen, name (UTF-16LE), value}; size covers
// the whole record.
func ParseCNG(data []byte) (*CNGKey, error) {
	if len(data) < cngHeaderSize {
		return nil, fmt.Errorf("CNG key file: %d bytes, shorter than its %d-byte header", len(data), cngHeaderSize)
	}
	u32 := func(off int) uint64 { return uint64(binary.LittleEndian.Uint32(data[off:])) }
	if v := u32(0); v != cngVersion {
		return nil, fmt.Errorf("CNG key file: format version %d, want %d", v, cngVersion)
	}
	nameLen := u32(8)
	count := int(binary.LittleEndian.Uint16(data[14:]))
	if count > maxPublicSections {
		return nil, fmt.Errorf("CNG key file: %d property sections, at most %d fit the header", count, maxPublicSections)
	}
	lens := []uint64{nameLen}
	for i := 0; i < count+2; i++ {
		lens = append(lens, u32(16+4*i))
	}
	var total uint64
	for _, n := range lens {
		total += n
	}
	if total > uint64(len(data)-cngHeaderSize) {
		return nil, fmt.Errorf("CNG key file: sections of %d bytes overrun the %d bytes after the header", total, len(data)-cngHeaderSize)
	}
	off := uint64(cngHeaderSize)
	next := func(n uint64) []byte {
		b := data[off : off+n]
		off += n
		return b
	}
	k := &CNGKey{Name: winstr.Decode(next(nameLen))}
	for i := 0; i < count; i++ {
		props, err := parseCNGProperties(next(lens[1+i]))
		if err != nil {
			return nil, fmt.Errorf("CNG key file: section %d: %w", i+1, err)
		}
		k.Properties = append(k.Properties, props...)
	}
	k.PrivatePropertiesLen = len(next(lens[1+count]))
	k.PrivateKey = next(lens[2+count])
	return k, nil
}

const cngPropertyHeader = 20

func parseCNGProperties(b []byte) ([]CNGProperty, error) {
	// A section may hold a bare key blob instead of property records (a
	// record starts with its size, which no blob magic can be).
	if _, err := ParseBCryptPublicKey(b); !errors.Is(err, errNotBCrypt) {
		return []CNGProperty{{Value: b}}, nil
	}
	var out []CNGProperty
	for off := 0; off < len(b); {
		if len(b)-off < cngPropertyHeader {
			return nil, fmt.Errorf("property at offset %d: %d bytes, shorter than its header", off, len(b)-off)
		}
		size := uint64(binary.LittleEndian.Uint32(b[off:]))
		nameLen := uint64(binary.LittleEndian.Uint32(b[off+12:]))
		valueLen := uint64(binary.LittleEndian.Uint32(b[off+16:]))
		if size < cngPropertyHeader+nameLen+valueLen || size > uint64(len(b)-off) {
			return nil, fmt.Errorf("property at offset %d: size %d for a %d-byte name and a %d-byte value in %d bytes",
				off, size, nameLen, valueLen, len(b)-off)
		}
		p := b[off+cngPropertyHeader:]
		out = append(out, CNGProperty{Name: winstr.Decode(p[:nameLen]), Value: p[nameLen : nameLen+valueLen]})
		off += int(size)
	}
	return out, nil
}

// PublicKey returns the public key that a clear property holds as a BCRYPT
// public key blob (RSA, or ECDSA/ECDH on P-256, P-384, P-521), or
// ErrNoPublicKey when no property does.
func (k *CNGKey) PublicKey() (crypto.PublicKey, error) {
	var firstErr error
	for _, p := range k.Properties {
		pub, err := ParseBCryptPublicKey(p.Value)
		if err == nil {
			return pub, nil
		}
		if !errors.Is(err, errNotBCrypt) && firstErr == nil {
			firstErr = fmt.Errorf("property %q: %w", p.Name, err)
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return nil, ErrNoPublicKey
}

// ErrNoPublicKey says a CNG key file keeps no public key in the clear.
var ErrNoPublicKey = errors.New("no public key in the clear")

// errNotBCrypt: the value does not start with a public key blob magic.
var errNotBCrypt = errors.New("not a BCRYPT public key blob")

// BCRYPT public key blob magics (bcrypt.h).
var eccCurves = map[string]elliptic.Curve{
	"ECS1": elliptic.P256(), "ECK1": elliptic.P256(), // ECDSA / ECDH P-256
	"ECS3": elliptic.P384(), "ECK3": elliptic.P384(),
	"ECS5": elliptic.P521(), "ECK5": elliptic.P521(),
}

// ParseBCryptPublicKey decodes a BCRYPT_RSAPUBLIC_BLOB ("RSA1", u32 bitLen,
// u32 expLen, u32 modLen, u32 prime1Len = 0, u32 prime2Len = 0, exponent,
// modulus; big-endian numbers) or a BCRYPT_ECCPUBLIC_BLOB ("ECS1"…, u32
// coordLen, X, Y; big-endian). Trailing bytes are refused.
func ParseBCryptPublicKey(b []byte) (crypto.PublicKey, error) {
	if len(b) < 8 {
		return nil, errNotBCrypt
	}
	magic := string(b[:4])
	if magic == "RSA1" {
		if len(b) < 24 {
			return nil, fmt.Errorf("BCRYPT RSA public key: %d bytes, shorter than its header", len(b))
		}
		bits := uint64(binary.LittleEndian.Uint32(b[4:]))
		expLen := uint64(binary.LittleEndian.Uint32(b[8:]))
		modLen := uint64(binary.LittleEndian.Uint32(b[12:]))
		if binary.LittleEndian.Uint32(b[16:]) != 0 || binary.LittleEndian.Uint32(b[20:]) != 0 {
			return nil, errors.New("BCRYPT RSA public key: carries primes")
		}
		if bits < minRSABits || bits > maxRSABits || expLen == 0 || expLen > 4 || modLen != (bits+7)/8 || 24+expLen+modLen != uint64(len(b)) {
			return nil, fmt.Errorf("BCRYPT RSA public key: %d bits, %d-byte exponent, %d-byte modulus in %d bytes", bits, expLen, modLen, len(b))
		}
		e := new(big.Int).SetBytes(b[24 : 24+expLen])
		n := new(big.Int).SetBytes(b[24+expLen:])
		if uint64(n.BitLen()) != bits || e.Int64() < 3 || e.Bit(0) == 0 || e.Int64() > 1<<31-1 {
			return nil, fmt.Errorf("BCRYPT RSA public key: %d-bit modulus (header %d), exponent %v", n.BitLen(), bits, e)
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	}
	curve, ok := eccCurves[magic]
	if !ok {
		return nil, errNotBCrypt
	}
	size := uint64((curve.Params().BitSize + 7) / 8)
	if uint64(binary.LittleEndian.Uint32(b[4:])) != size || uint64(len(b)) != 8+2*size {
		return nil, fmt.Errorf("BCRYPT %s public key: coordinate length %d in %d bytes, want %d", magic, binary.LittleEndian.Uint32(b[4:]), len(b), size)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, append([]byte{4}, b[8:]...))
	if err != nil {
		return nil, fmt.Errorf("BCRYPT %s public key: %w", magic, err)
	}
	return pub, nil
}

// CNGPrivateKeyEntropy is the DPAPI entropy of a CNG key file's private key
// blob (the "Private Key" description's, as the key-file readers cited in
// the package documentation use it).
var CNGPrivateKeyEntropy = []byte("xT5rZW5qVVbrvpuA\x00")

// CNGPrivateBelongs reports whether the plaintext of a CNG private key blob
// (what DPAPI gives back) holds the private key of pub: a
// BCRYPT_RSAPRIVATE_BLOB ("RSA2", big-endian; p·q must be pub's modulus) or
// a BCRYPT_ECCPRIVATE_BLOB ("ECS2"/"ECK2"…: X, Y, d; d·G must be pub's
// point), either bare or as the value of a property record. An error says
// the plaintext holds no such key.
func CNGPrivateBelongs(plain []byte, pub crypto.PublicKey) (bool, error) {
	vals := [][]byte{plain}
	if props, err := parseCNGProperties(plain); err == nil {
		for _, p := range props {
			vals = append(vals, p.Value)
		}
	}
	for _, v := range vals {
		if ok, err := privateBelongs(v, pub); err == nil {
			return ok, nil
		}
	}
	return false, errors.New("CNG private key: no RSA or ECC private key blob in the plaintext")
}

type eccPrivate struct {
	curve ecdh.Curve
	size  uint64 // coordinate and scalar length
}

var eccPrivateCurves = map[string]eccPrivate{
	"ECS2": {ecdh.P256(), 32}, "ECK2": {ecdh.P256(), 32},
	"ECS4": {ecdh.P384(), 48}, "ECK4": {ecdh.P384(), 48},
	"ECS6": {ecdh.P521(), 66}, "ECK6": {ecdh.P521(), 66},
}

func privateBelongs(b []byte, pub crypto.PublicKey) (bool, error) {
	if len(b) < 8 {
		return false, errNotBCrypt
	}
	magic := string(b[:4])
	if magic == "RSA2" {
		if len(b) < 24 {
			return false, errNotBCrypt
		}
		var l [5]uint64
		total := uint64(24)
		for i := range l {
			l[i] = uint64(binary.LittleEndian.Uint32(b[4+4*i:]))
		}
		// l: bitLen, expLen, modLen, prime1Len, prime2Len
		for _, n := range l[1:] {
			total += n
		}
		if l[2] == 0 || l[3] == 0 || l[4] == 0 || total > uint64(len(b)) {
			return false, errNotBCrypt
		}
		off := 24 + l[1]
		n := new(big.Int).SetBytes(b[off : off+l[2]])
		p := new(big.Int).SetBytes(b[off+l[2] : off+l[2]+l[3]])
		q := new(big.Int).SetBytes(b[off+l[2]+l[3] : off+l[2]+l[3]+l[4]])
		rsaPub, ok := pub.(*rsa.PublicKey)
		one := big.NewInt(1)
		if !ok || p.Cmp(one) <= 0 || q.Cmp(one) <= 0 {
			return false, nil
		}
		pq := new(big.Int).Mul(p, q)
		return pq.Cmp(n) == 0 && pq.Cmp(rsaPub.N) == 0, nil
	}
	ec, ok := eccPrivateCurves[magic]
	if !ok {
		return false, errNotBCrypt
	}
	size := ec.size
	if uint64(binary.LittleEndian.Uint32(b[4:])) != size || uint64(len(b)) < 8+3*size {
		return false, errNotBCrypt
	}
	priv, err := ec.curve.NewPrivateKey(b[8+2*size : 8+3*size])
	if err != nil {
		return false, nil
	}
	ecPub, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return false, nil
	}
	want, err := ecPub.ECDH()
	if err != nil {
		return false, nil
	}
	return priv.PublicKey().Equal(want), nil
}
