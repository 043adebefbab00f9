package nssdb

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"

	"github.com/certsight/certsight/internal/fsafe"
	"github.com/certsight/certsight/stores"
)

// What a key object of key4.db proves about a certificate's private key.
//
// A key object links itself to a certificate by CKA_ID, which anyone who
// can write the file can copy from the certificate: a link alone proves
// nothing. The object's public half (RSA modulus, EC point) is stored in the
// clear and is compared with the certificate's. Its private half is
// encrypted; with the empty password most users' databases have, it is
// decrypted and checked against the public half (RSA p·q = n, EC d·G = Q,
// Ed25519 seed → public key), then dropped. A password-protected database's
// private half stays unread: such a key is "locked" however its public half
// compares.

// Key object columns in nssPrivate (attribute type in hex, see attr.go).
const (
	colKeyType    = "a100" // CKA_KEY_TYPE
	colModulus    = "a120" // CKA_MODULUS
	colPrime1     = "a124" // CKA_PRIME_1, encrypted
	colPrime2     = "a125" // CKA_PRIME_2, encrypted
	colECParams   = "a180" // CKA_EC_PARAMS
	colNSSDBPoint = "ad5a0db00"
	// CKA_VALUE (colValue) is the encrypted EC scalar or Ed25519 seed.
)

// Key types (CKA_KEY_TYPE).
const (
	keyTypeRSA       = 0x00
	keyTypeEC        = 0x03
	keyTypeECEdwards = 0x40 // CKK_EC_EDWARDS
)

// maxKeyValue bounds every key attribute read from key4.db: the largest
// real one is an encrypted 8192-bit RSA prime (~700 bytes). A larger value
// is not read at all (the file is user-writable: a view or a huge blob must
// not become memory).
const maxKeyValue = 4096

// maxIterationsPerDB bounds the PBKDF2 work of one key database: an
// empty-password database costs 2 iterations per RSA key, so a million
// allows half a million keys while a crafted file cannot cost more than
// about a second of CPU.
const maxIterationsPerDB = 1_000_000

// keyKind is what reading one key object established.
type keyKind uint8

const (
	keyNoMaterial    keyKind = iota // no private attribute at all
	keyLinkOnly                     // private half not decrypted and no clear public half
	keyPublicOnly                   // clear public half; private half encrypted under a password
	keyVerified                     // private half decrypted; pub is derived from it
	keyInconsistent                 // private half does not belong to the stored public half
	keyUndecryptable                // empty password, yet the private half does not decrypt
)

// rank orders the kinds by the evidence they carry, for two key objects
// with one CKA_ID: a junk object beside a real key must not hide it.
func (k keyKind) rank() int {
	return [...]int{keyNoMaterial: 0, keyLinkOnly: 1, keyUndecryptable: 2, keyInconsistent: 3,
		keyPublicOnly: 4, keyVerified: 5}[k]
}

// keyObject is the evidence of one key object: no key material is kept.
type keyObject struct {
	kind keyKind
	pub  [sha256.Size]byte // publicHalf's fingerprint, for keyPublicOnly and keyVerified
	note string            // why, for the kinds that need a reason
}

// keyIndex is what key4.db says about private keys, by CKA_ID.
type keyIndex struct {
	byID map[string]keyObject
	// err is set when key4.db exists but could not be read: every key
	// state is then unknown.
	err error
	// locked says the database has a password (the empty one did not
	// open it), or why its password state is unknown.
	locked string
}

// state returns the key state of certificate c whose CKA_ID is ckaID, and a
// note saying what was established. linked reports a key object with the
// same CKA_ID (which is what NSS itself goes by, e.g. for the "u" trust flag).
func (ix *keyIndex) state(c *x509.Certificate, ckaID []byte) (_ stores.KeyMatch, note string, linked bool) {
	if ix == nil {
		return stores.KeyAbsent, "", false
	}
	if ix.err != nil {
		return stores.KeyUnknown, fmt.Sprintf("%s could not be read: %v", KeyDBName, ix.err), false
	}
	obj, ok := ix.byID[string(ckaID)]
	if len(ckaID) == 0 || !ok {
		return stores.KeyAbsent, "", false
	}
	switch obj.kind {
	case keyNoMaterial:
		return stores.KeyAbsent, "key object linked by CKA_ID holds no private key material", true
	case keyLinkOnly:
		return stores.KeyLinked, "key object linked by CKA_ID; " + obj.note, true
	case keyUndecryptable:
		return stores.KeyLinked, "key object linked by CKA_ID, but its private half does not decrypt with the database's empty password: " + obj.note, true
	case keyInconsistent:
		return stores.KeyMismatch, "key object linked by CKA_ID: " + obj.note, true
	}
	fp, ok := publicHalf(c.PublicKey)
	if !ok {
		return stores.KeyLinked, "key object linked by CKA_ID; the certificate's key type is not compared", true
	}
	if fp != obj.pub {
		return stores.KeyMismatch, "key object linked by CKA_ID belongs to another public key", true
	}
	if obj.kind == keyPublicOnly {
		return stores.KeyLocked, "key object's public half matches; its private half is encrypted (" + obj.note + ")", true
	}
	return stores.KeyMatched, "private key in " + KeyDBName + ": decrypted with the empty database password and checked against the certificate", true
}

// publicHalf fingerprints a public key by its type and raw public value
// (RSA modulus, uncompressed EC point, Ed25519 key), the form both a
// certificate and a key object can give.
func publicHalf(pub any) (fp [sha256.Size]byte, ok bool) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fingerprint("rsa", k.N.Bytes()), true
	case *ecdsa.PublicKey:
		e, err := k.ECDH()
		if err != nil {
			return fp, false
		}
		return fingerprint("ec", e.Bytes()), true
	case ed25519.PublicKey:
		return fingerprint("ed25519", k), true
	}
	return fp, false
}

func fingerprint(kind string, raw []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(kind + "\x00"))
	h.Write(raw)
	var fp [sha256.Size]byte
	h.Sum(fp[:0])
	return fp
}

// keyRow is one private key object's stored attributes.
type keyRow struct {
	id, keyType, modulus, point, ecParams, value, prime1, prime2 []byte
	oversize                                                     bool
}

// readKeys reads the private key objects of key4.db at path, as one
// committed state of the file (see openDB; warn says when that could not be
// made sure). A missing file gives os.ErrNotExist; any other failure gives
// an index whose err is set, so every certificate's key state is
// "unknown", not "absent".
func readKeys(ctx context.Context, fsys fsafe.FS, path string) (ix *keyIndex, warn, err error) {
	if _, err := fsys.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, err
		}
		return &keyIndex{err: err}, nil, err
	}
	for attempt := 0; ; attempt++ {
		snap, err := openDB(ctx, fsys, path, attempt == retries)
		if err != nil {
			return &keyIndex{err: err}, nil, err
		}
		ix, err := keysIn(ctx, snap.db, path)
		torn := snap.changed(ctx)
		warn := snap.warn
		snap.close()
		if torn && attempt < retries {
			continue
		}
		if torn {
			warn = fmt.Errorf("%w: %s", ErrInconsistent, KeyDBName)
		}
		if err != nil {
			return &keyIndex{err: err}, warn, err
		}
		return ix, warn, nil
	}
}

func keysIn(ctx context.Context, db *sql.DB, path string) (*keyIndex, error) {
	cols, err := columns(ctx, db, "nssPrivate")
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if !cols[colClass] || !cols[colID] {
		return nil, fmt.Errorf("reading %s: table nssPrivate lacks %s or %s", path, colClass, colID)
	}
	ix := &keyIndex{byID: map[string]keyObject{}}
	pbe, locked := passwordKey(ctx, db)
	ix.locked = locked
	budget := maxIterationsPerDB

	want := []string{colID, colKeyType, colModulus, colNSSDBPoint, colECParams, colValue, colPrime1, colPrime2}
	sel := make([]string, len(want))
	var sizes []string
	for i, c := range want {
		if !cols[c] {
			sel[i] = "NULL"
			continue
		}
		sel[i] = fmt.Sprintf("CASE WHEN length(%s) <= %d THEN %s END", c, maxKeyValue, c)
		sizes = append(sizes, fmt.Sprintf("coalesce(length(%s), 0) > %d", c, maxKeyValue))
	}
	over := "0"
	if len(sizes) > 0 {
		over = "(" + strings.Join(sizes, " OR ") + ")"
	}
	q := "SELECT " + strings.Join(sel, ", ") + ", " + over + " FROM nssPrivate WHERE " + colClass + " = ? LIMIT " + fmt.Sprint(maxRows+1)
	rs, err := db.QueryContext(ctx, q, ulongBytes(classPrivateKey))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	defer rs.Close()
	for n := 0; rs.Next(); n++ {
		if n == maxRows {
			return nil, fmt.Errorf("reading %s: more than %d private keys", path, maxRows)
		}
		var r keyRow
		var id, kt, mod, pt, par, val, p1, p2 sql.RawBytes
		if err := rs.Scan(&id, &kt, &mod, &pt, &par, &val, &p1, &p2, &r.oversize); err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		r.id = blob(id)
		if len(r.id) == 0 {
			continue
		}
		r.keyType, r.modulus, r.point, r.ecParams = blob(kt), blob(mod), blob(pt), blob(par)
		r.value, r.prime1, r.prime2 = blob(val), blob(p1), blob(p2)
		obj := judgeKey(&r, pbe, locked, &budget)
		if old, dup := ix.byID[string(r.id)]; dup && old.kind.rank() >= obj.kind.rank() {
			continue // two objects with one CKA_ID: keep the stronger evidence
		}
		ix.byID[string(r.id)] = obj
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return ix, nil
}

// passwordKey returns the PBKDF2 password of the empty database password
// when that is the database's password (metaData's password-check value
// decrypts with it), else nil and why the private halves stay unread.
func passwordKey(ctx context.Context, db *sql.DB) (key []byte, locked string) {
	if err := realTable(ctx, db, "metaData"); err != nil {
		return nil, fmt.Sprintf("the password-check entry could not be read: %v", err)
	}
	var salt, check []byte
	q := fmt.Sprintf("SELECT CASE WHEN length(item1) <= %d THEN item1 END, CASE WHEN length(item2) <= %d THEN item2 END "+
		"FROM metaData WHERE id = 'password'", maxKeyValue, maxKeyValue)
	if err := db.QueryRowContext(ctx, q).Scan(&salt, &check); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, "the database has no password-check entry"
		}
		return nil, fmt.Sprintf("the password-check entry could not be read: %v", err)
	}
	k := pbeKey(salt, "")
	plain, _, err := decryptValue(check, k)
	switch {
	case err == nil && bytes.Equal(plain, passwordCheck):
		return k, ""
	case err == nil || errors.Is(err, errBadPadding):
		return nil, "the database has a password"
	}
	return nil, fmt.Sprintf("the password-check entry is unusable: %v", err)
}

// judgeKey establishes what one key object holds. budget is the PBKDF2
// iterations the database has left.
func judgeKey(r *keyRow, pbe []byte, locked string, budget *int) keyObject {
	if r.oversize {
		return keyObject{kind: keyLinkOnly, note: fmt.Sprintf("an attribute is larger than %d bytes and was not read", maxKeyValue)}
	}
	kt, _, err := decodeULong(r.keyType)
	if err != nil {
		return keyObject{kind: keyLinkOnly, note: "key type: " + err.Error()}
	}
	// The clear public half, and the encrypted private values that prove it.
	var stored []byte
	var private [][]byte
	kind := ""
	switch kt {
	case keyTypeRSA:
		kind, stored, private = "rsa", trimZeros(r.modulus), [][]byte{r.prime1, r.prime2}
	case keyTypeEC:
		kind, stored, private = "ec", r.point, [][]byte{r.value}
	case keyTypeECEdwards:
		kind, stored, private = "ed25519", r.point, [][]byte{r.value}
	default:
		return keyObject{kind: keyLinkOnly, note: fmt.Sprintf("key type %#x is not checked", kt)}
	}
	present := 0
	for _, v := range private {
		if len(v) > 0 {
			present++
		}
	}
	if present == 0 {
		return keyObject{kind: keyNoMaterial}
	}
	if pbe == nil || present < len(private) {
		why := locked
		if pbe != nil {
			why = "part of the private half is missing"
		}
		if len(stored) == 0 {
			return keyObject{kind: keyLinkOnly, note: "its private half is encrypted and it stores no public half (" + why + ")"}
		}
		return keyObject{kind: keyPublicOnly, pub: fingerprint(kind, stored), note: why}
	}
	plain := make([][]byte, len(private))
	for i, v := range private {
		if *budget <= 0 {
			return lockedOrLink(kind, stored, "the key database's decryption budget is spent")
		}
		p, n, err := decryptValue(v, pbe)
		*budget -= n
		if errors.Is(err, errUnsupportedPBE) {
			return lockedOrLink(kind, stored, err.Error())
		}
		if err != nil {
			return keyObject{kind: keyUndecryptable, note: err.Error()}
		}
		plain[i] = p
	}
	derived, err := derivePublic(kt, r.ecParams, plain)
	clear(plain)
	if err != nil {
		return keyObject{kind: keyUndecryptable, note: err.Error()}
	}
	if len(stored) > 0 && !bytes.Equal(stored, derived) {
		return keyObject{kind: keyInconsistent, note: "its private half does not belong to its own public half"}
	}
	return keyObject{kind: keyVerified, pub: fingerprint(kind, derived)}
}

func lockedOrLink(kind string, stored []byte, why string) keyObject {
	if len(stored) == 0 {
		return keyObject{kind: keyLinkOnly, note: "its private half was not decrypted (" + why + ")"}
	}
	return keyObject{kind: keyPublicOnly, pub: fingerprint(kind, stored), note: why}
}

// derivePublic computes the raw public value from decrypted private
// values: RSA n = p·q from the two primes, an EC point from the scalar on
// the curve named by params, an Ed25519 public key from its seed.
func derivePublic(keyType uint32, params []byte, plain [][]byte) ([]byte, error) {
	switch keyType {
	case keyTypeRSA:
		p, q := new(big.Int).SetBytes(plain[0]), new(big.Int).SetBytes(plain[1])
		one := big.NewInt(1)
		if p.Cmp(one) <= 0 || q.Cmp(one) <= 0 {
			return nil, errors.New("RSA primes are not greater than 1")
		}
		return new(big.Int).Mul(p, q).Bytes(), nil
	case keyTypeEC:
		curve, size, err := ecCurve(params)
		if err != nil {
			return nil, err
		}
		d := trimZeros(plain[0])
		if len(d) > size {
			return nil, fmt.Errorf("EC private value is %d bytes, longer than the curve's %d", len(d), size)
		}
		priv, err := curve.NewPrivateKey(append(make([]byte, size-len(d)), d...))
		if err != nil {
			return nil, fmt.Errorf("EC private value: %w", err)
		}
		return priv.PublicKey().Bytes(), nil
	case keyTypeECEdwards:
		if len(plain[0]) != ed25519.SeedSize {
			return nil, fmt.Errorf("Ed25519 private value is %d bytes, want %d", len(plain[0]), ed25519.SeedSize)
		}
		return ed25519.NewKeyFromSeed(plain[0]).Public().(ed25519.PublicKey), nil
	}
	return nil, fmt.Errorf("key type %#x", keyType)
}

var (
	oidP256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384 = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521 = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
)

// ecCurve maps CKA_EC_PARAMS (a DER named-curve OID) to its curve and
// scalar size.
func ecCurve(params []byte) (ecdh.Curve, int, error) {
	var oid asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(params, &oid); err != nil || len(rest) > 0 {
		return nil, 0, errors.New("EC parameters are not a named curve")
	}
	switch {
	case oid.Equal(oidP256):
		return ecdh.P256(), 32, nil
	case oid.Equal(oidP384):
		return ecdh.P384(), 48, nil
	case oid.Equal(oidP521):
		return ecdh.P521(), 66, nil
	}
	return nil, 0, fmt.Errorf("EC curve %s is not checked", oid)
}

func trimZeros(b []byte) []byte {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	return b
}
