// Package element parses the serialized certificate store element of
// Windows' crypt32 (what a registry Blob value, a user's
// My\Certificates\<thumbprint> file, or a CERT_STORE_SAVE_AS_STORE .sst
// file holds). It is the file format only; the store reader (package
// winstore) decides what an element means for an entry. It sits under
// internal/ so that the format's identifiers are not public API of the
// module: nothing outside the reader needs them, and keeping them private
// leaves the layout free to change with what Windows is found to write.
package element

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/certsight/certsight/stores/winstore/internal/winstr"
)

// Property ids (CERT_*_PROP_ID, wincrypt.h) that the reader uses.
const (
	PropKeyProvInfo  uint32 = 2  // CERT_KEY_PROV_INFO_PROP_ID: the link to a private key
	PropSHA1Hash     uint32 = 3  // CERT_SHA1_HASH_PROP_ID: the thumbprint
	PropFriendlyName uint32 = 11 // CERT_FRIENDLY_NAME_PROP_ID: UTF-16LE, NUL-terminated
	PropCert         uint32 = 32 // CERT_CERT_PROP_ID: the DER certificate
	PropCRL          uint32 = 33 // CERT_CRL_PROP_ID
	PropCTL          uint32 = 34 // CERT_CTL_PROP_ID
)

// propHeaderSize is the size of one property header: id, reserved, length.
const propHeaderSize = 12

// storeHeader starts a serialized store (.sst, CERT_STORE_SAVE_AS_STORE):
// a zero word and "CERT", then elements, then a zero property header.
var storeHeader = []byte{0, 0, 0, 0, 'C', 'E', 'R', 'T'}

// Property is one record of a serialized element.
type Property struct {
	ID    uint32
	Value []byte
}

// Element is one serialized certificate store element: what a registry
// Blob value, or a user's My\Certificates\<thumbprint> file, holds.
type Element struct {
	// Properties in file order. The context property (32 for a certificate)
	// comes last in what Windows writes.
	Properties []Property
}

// ParseElement parses one serialized element: a run of {u32 id, u32
// reserved = 1, u32 length, value} records, little-endian, without padding,
// that must consume data exactly (a zero id header ends it early). It holds
// at most one context property (32, 33 or 34).
func ParseElement(data []byte) (*Element, error) {
	e, rest, err := parseProperties(data, false)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 && !allZero(rest) {
		return nil, fmt.Errorf("%d bytes after the end marker", len(rest))
	}
	if len(e.Properties) == 0 {
		return nil, errors.New("element holds no properties")
	}
	return e, nil
}

// ParseStore parses a serialized store (.sst): the "CERT" header, then
// elements, each closed by its context property, then a zero header.
func ParseStore(data []byte) ([]*Element, error) {
	var out []*Element
	err := ScanStore(bytes.NewReader(data), func(e *Element) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// MaxPropertySize caps one property value read by ScanStore: a certificate
// is a few KiB, a CTL rarely more than a few hundred.
const MaxPropertySize = 16 << 20

// ScanStore reads a serialized store from r one element at a time and hands
// each to fn, so that only one element is in memory however large the
// store. It stops at fn's first error and returns it.
func ScanStore(r io.Reader, fn func(*Element) error) error {
	br := bufio.NewReader(r)
	head := make([]byte, len(storeHeader))
	if _, err := io.ReadFull(br, head); err != nil || !IsStore(head) {
		return errors.New("no serialized store header")
	}
	off := int64(len(storeHeader))
	n := 0
	e := &Element{}
	var hdr [propHeaderSize]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if err == io.EOF && len(e.Properties) == 0 {
				return nil // no end marker, but nothing was cut either
			}
			return fmt.Errorf("element %d: property header at offset %d truncated", n+1, off)
		}
		id := binary.LittleEndian.Uint32(hdr[0:])
		reserved := binary.LittleEndian.Uint32(hdr[4:])
		size := binary.LittleEndian.Uint32(hdr[8:])
		if id == 0 {
			if len(e.Properties) > 0 {
				return fmt.Errorf("element %d: no context property before the end of the store", n+1)
			}
			return nil // end marker
		}
		if reserved != 1 {
			return fmt.Errorf("element %d: property %d at offset %d: reserved word is %d, want 1", n+1, id, off, reserved)
		}
		if size > MaxPropertySize {
			return fmt.Errorf("element %d: property %d at offset %d: length %d exceeds the %d-byte limit", n+1, id, off, size, MaxPropertySize)
		}
		v := make([]byte, size)
		if _, err := io.ReadFull(br, v); err != nil {
			return fmt.Errorf("element %d: property %d at offset %d: length %d runs past the end", n+1, id, off, size)
		}
		off += propHeaderSize + int64(size)
		e.Properties = append(e.Properties, Property{ID: id, Value: v})
		if isContext(id) {
			n++
			if err := fn(e); err != nil {
				return err
			}
			e = &Element{}
		}
	}
}

// IsStore reports whether data starts with a serialized store header.
func IsStore(data []byte) bool { return bytes.HasPrefix(data, storeHeader) }

// Sniff reports whether head, the first bytes of a file, is a serialized
// store element (property records with reserved = 1, an id below 0x10000
// and a length of at most maxLen, checked as far as head reaches) or a
// serialized store (.sst). It reads only head: a whole file may be far
// larger.
func Sniff(head []byte, maxLen uint32) bool {
	if IsStore(head) {
		return true
	}
	n := 0
	for off := 0; len(head)-off >= propHeaderSize; n++ {
		id := binary.LittleEndian.Uint32(head[off:])
		reserved := binary.LittleEndian.Uint32(head[off+4:])
		size := binary.LittleEndian.Uint32(head[off+8:])
		if id == 0 {
			return n > 0
		}
		if reserved != 1 || id > 0xffff || size > maxLen {
			return false
		}
		off += propHeaderSize + int(size)
	}
	return n > 0
}

// parseProperties reads records until the data ends or a zero id header
// (returning what follows it); with stopAtContext it also stops after a
// context property, returning the rest.
func parseProperties(data []byte, stopAtContext bool) (*Element, []byte, error) {
	e := &Element{}
	off := 0
	for off < len(data) {
		if len(data)-off < propHeaderSize {
			return nil, nil, fmt.Errorf("property header at offset %d truncated: %d of %d bytes", off, len(data)-off, propHeaderSize)
		}
		id := binary.LittleEndian.Uint32(data[off:])
		reserved := binary.LittleEndian.Uint32(data[off+4:])
		n := binary.LittleEndian.Uint32(data[off+8:])
		if id == 0 {
			return e, data[off+propHeaderSize:], nil
		}
		if reserved != 1 {
			return nil, nil, fmt.Errorf("property %d at offset %d: reserved word is %d, want 1", id, off, reserved)
		}
		start := off + propHeaderSize
		if uint64(n) > uint64(len(data)-start) {
			return nil, nil, fmt.Errorf("property %d at offset %d: length %d runs past the end (%d bytes left)", id, off, n, len(data)-start)
		}
		if isContext(id) && e.Context() != 0 {
			return nil, nil, fmt.Errorf("property %d at offset %d: a second context property", id, off)
		}
		e.Properties = append(e.Properties, Property{ID: id, Value: data[start : start+int(n)]})
		off = start + int(n)
		if stopAtContext && isContext(id) {
			return e, data[off:], nil
		}
	}
	return e, nil, nil
}

func isContext(id uint32) bool { return id == PropCert || id == PropCRL || id == PropCTL }

// Context returns the element's context property id (PropCert, PropCRL or
// PropCTL), or 0.
func (e *Element) Context() uint32 {
	for _, p := range e.Properties {
		if isContext(p.ID) {
			return p.ID
		}
	}
	return 0
}

// Property returns the value of the first property with the given id.
func (e *Element) Property(id uint32) ([]byte, bool) {
	for _, p := range e.Properties {
		if p.ID == id {
			return p.Value, true
		}
	}
	return nil, false
}

// Certificate returns the DER certificate (property 32), or nil.
func (e *Element) Certificate() []byte {
	v, _ := e.Property(PropCert)
	return v
}

// FriendlyName decodes property 11; "" when absent.
func (e *Element) FriendlyName() (string, error) {
	v, ok := e.Property(PropFriendlyName)
	if !ok {
		return "", nil
	}
	s, err := utf16z(v, 0)
	if err != nil {
		return "", fmt.Errorf("friendly name: %w", err)
	}
	return s, nil
}

// KeyProvInfo is what property 2 says about the linked private key. It
// only names the key; whether the key file still exists is not checked.
type KeyProvInfo struct {
	ContainerName string
	ProviderName  string
	// ProviderType is 0 for a CNG key storage provider, else a CAPI CSP type.
	ProviderType uint32
	Flags        uint32
	KeySpec      uint32 // 1 AT_KEYEXCHANGE, 2 AT_SIGNATURE
}

// cryptMachineKeyset is CRYPT_MACHINE_KEYSET: the key belongs to the machine.
const cryptMachineKeyset = 0x20

// MachineKey reports a key kept in the machine's key store.
func (k KeyProvInfo) MachineKey() bool { return k.Flags&cryptMachineKeyset != 0 }

// keyProvInfoSize is the fixed part of the persisted CRYPT_KEY_PROV_INFO:
// offContainerName, offProvName, dwProvType, dwFlags, cProvParam,
// offProvParam, dwKeySpec; offsets count from the start of the value.
const keyProvInfoSize = 28

// KeyProvInfo decodes property 2; nil, nil when absent.
func (e *Element) KeyProvInfo() (*KeyProvInfo, error) {
	v, ok := e.Property(PropKeyProvInfo)
	if !ok {
		return nil, nil
	}
	if len(v) < keyProvInfoSize {
		return nil, fmt.Errorf("key provider info: %d bytes, want at least %d", len(v), keyProvInfoSize)
	}
	w := func(i int) uint32 { return binary.LittleEndian.Uint32(v[4*i:]) }
	k := &KeyProvInfo{ProviderType: w(2), Flags: w(3), KeySpec: w(6)}
	var err1, err2 error
	if off := w(0); off != 0 {
		k.ContainerName, err1 = utf16z(v, off)
	}
	if off := w(1); off != 0 {
		k.ProviderName, err2 = utf16z(v, off)
	}
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("key provider info: %w", err)
	}
	return k, nil
}

// utf16z decodes a NUL-terminated UTF-16LE string at off in b; a string
// that runs to the end of b without a NUL is accepted.
func utf16z(b []byte, off uint32) (string, error) {
	if uint64(off) > uint64(len(b)) {
		return "", fmt.Errorf("string offset %d outside the %d-byte value", off, len(b))
	}
	return winstr.Decode(b[off:]), nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
