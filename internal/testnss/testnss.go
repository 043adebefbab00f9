// Package testnss creates NSS shared databases (cert9.db, key4.db,
// pkcs11.txt) with the schema and attribute encoding certutil writes. It is
// a helper for tests, benchmarks and demos: it builds a database of
// thousands of certificates in seconds (pk12util takes minutes) on a
// machine without NSS tools.
//
// What it writes, per certificate, is what certutil -A / -S and pk12util
// write: a CKO_CERTIFICATE object, a trust object when a trust string is
// given, and, for a certificate "with key", a CKO_PUBLIC_KEY object in
// cert9.db and a CKO_PRIVATE_KEY object in key4.db sharing its CKA_ID.
// Without Options.KeyMaterial the private key object holds no key material: NSS sees
// that a key is linked (certutil -L shows `u`, -K lists it) but cannot use
// it. With it, each Cert.Key's private attributes are encrypted under the empty
// password (keymaterial.go) and the key database gets the password record
// of an empty password.
//
// Without Options.KeyMaterial the key database has no password record, so NSS
// treats it as not yet initialised ("Database needs user init") and does
// not check the integrity MACs it would keep for trust values; certutil -L
// reads it as is. Commands that log in to the token (certutil -K, pk12util)
// ask for the database to be initialised first (certutil -N) and fail
// without it.
package testnss

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/md5" //nolint:gosec // NSS stores an MD5 of each trusted certificate
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // NSS derives CKA_ID with SHA-1
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // pure-Go SQLite driver

	"github.com/certsight/certsight/internal/certdb"
)

// TrustClass selects which class of trust object Create writes.
type TrustClass int

const (
	// TrustNSS writes CKO_NSS_TRUST objects, as NSS before 3.114 does.
	TrustNSS TrustClass = iota
	// TrustPKCS11 writes PKCS#11 3.2 CKO_TRUST objects, as NSS 3.114 and
	// later do, and adds their columns to the schema.
	TrustPKCS11
	// TrustBoth writes both, as found after a newer NSS changed trust in
	// an older database.
	TrustBoth
)

// Cert is one certificate to write.
type Cert struct {
	// Nickname is the CKA_LABEL, the name certutil -L lists.
	Nickname string
	// DER is the certificate.
	DER []byte
	// Trust is in certutil -t syntax ("CT,C,C", "P,,", ",,"); empty writes
	// no trust object. `u` is accepted and, as in NSS, not stored.
	Trust string
	// WithKey writes public and private key objects linked by CKA_ID.
	WithKey bool
	// Key, with WithKey and Options.KeyMaterial, is the certificate's
	// private key (*rsa.PrivateKey, *ecdsa.PrivateKey or
	// ed25519.PrivateKey): its private attributes are written encrypted
	// under the empty database password, as certutil and pk12util write
	// them. Otherwise the key object holds no key material (a link only).
	Key any
}

// Options tune Create.
type Options struct {
	Trust TrustClass
	// KeyMaterial writes each Cert.Key's private attributes encrypted under
	// the empty password, with the password record of an empty password.
	// NSS then checks the integrity MACs of trust values, which Create does
	// not write: certutil shows such a database's trust as ",," (this
	// package's reader, like a browser's certificate list, is unaffected).
	// Leave it off where certutil must read trust.
	KeyMaterial bool
}

// Object classes and constants (nss lib/util/pkcs11t.h, pkcs11n.h).
const (
	ckoCertificate = 0x00000001
	ckoPublicKey   = 0x00000002
	ckoPrivateKey  = 0x00000003
	ckoTrust       = 0x0000000b
	ckoNSSTrust    = 0xce534353
	ckkRSA         = 0x00000000
	ckkEC          = 0x00000003
	ckkEdwards     = 0x00000040
	ckmSHA256      = 0x00000250
)

// explicitNull is NSS's marker for a present but empty attribute.
var explicitNull = []byte{0xa5, 0x00, 0x5a}

// firstID is the first object handle; NSS seeds handles from the clock, a
// fixed start keeps the output reproducible.
const firstID = 0x01000000

// Create writes a new database into dir (created if needed). It refuses to
// overwrite an existing cert9.db or key4.db.
func Create(ctx context.Context, dir string, certs []Cert, opts Options) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	for _, name := range []string{"cert9.db", "key4.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return fmt.Errorf("%s already exists in %s", name, dir)
		}
	}
	objs, err := buildObjects(certs, opts)
	if err != nil {
		return err
	}
	extra := ""
	if opts.Trust != TrustNSS {
		extra = columnsPKCS11Trust
	}
	if err := writeDB(ctx, filepath.Join(dir, "cert9.db"), "nssPublic", extra, objs.public, nil); err != nil {
		return err
	}
	if err := writeDB(ctx, filepath.Join(dir, "key4.db"), "nssPrivate", "", objs.private, objs.meta); err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	cfg := "library=\nname=NSS Internal PKCS #11 Module\nparameters=configdir='sql:" + abs +
		"' certPrefix='' keyPrefix='' secmod='secmod.db' flags= updatedir='' updateCertPrefix='' updateKeyPrefix='' updateid='' updateTokenDescription='' \n" +
		"NSS=Flags=internal,critical trustOrder=75 cipherOrder=100 slotParams=(1={slotFlags=[ECC,RSA,DSA,DH,RC2,RC4,DES,RANDOM,SHA1,MD5,MD2,SSL,TLS,AES,Camellia,SEED,SHA256,SHA512] askpw=any timeout=30})\n"
	if err := os.WriteFile(filepath.Join(dir, "pkcs11.txt"), []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("writing pkcs11.txt: %w", err)
	}
	return nil
}

// object is one PKCS#11 object: column name → stored value.
type object map[string][]byte

type objects struct {
	public, private []object
	// meta holds metaData rows (id → item1, item2) for the key database.
	meta map[string][2][]byte
}

func buildObjects(certs []Cert, opts Options) (objects, error) {
	var out objects
	var globalSalt []byte
	for _, c := range certs {
		if opts.KeyMaterial && c.WithKey && c.Key != nil && globalSalt == nil {
			globalSalt = make([]byte, 20)
			if _, err := rand.Read(globalSalt); err != nil {
				return out, err
			}
			check, err := passwordRow(globalSalt)
			if err != nil {
				return out, err
			}
			out.meta = map[string][2][]byte{"password": {globalSalt, check}}
		}
	}
	for i, c := range certs {
		x, err := x509.ParseCertificate(c.DER)
		if err != nil {
			return out, fmt.Errorf("certificate %d (%q): %w", i, c.Nickname, err)
		}
		id, pub, priv, err := keyObjects(x)
		if err != nil {
			return out, fmt.Errorf("certificate %d (%q): %w", i, c.Nickname, err)
		}
		serial, err := asn1.Marshal(x.SerialNumber)
		if err != nil {
			return out, fmt.Errorf("certificate %d (%q): serial: %w", i, c.Nickname, err)
		}
		out.public = append(out.public, object{
			"a0": ulong(ckoCertificate), "a1": {1}, "a2": {0}, "a3": []byte(c.Nickname),
			"a11": x.Raw, "a80": ulong(0), "a81": x.RawIssuer, "a82": serial,
			"a101": x.RawSubject, "a102": id, "a170": {1},
		})
		if c.Trust != "" {
			t, err := ParseTrust(c.Trust)
			if err != nil {
				return out, fmt.Errorf("certificate %d (%q): %w", i, c.Nickname, err)
			}
			out.public = append(out.public, trustObjects(t, x, serial, opts.Trust)...)
		}
		if c.WithKey {
			pub["a102"], priv["a102"] = id, id
			priv["a3"], priv["a101"] = []byte(c.Nickname), x.RawSubject
			if globalSalt != nil && c.Key != nil {
				attrs, err := privateAttributes(globalSalt, c.Key)
				if err != nil {
					return out, fmt.Errorf("certificate %d (%q): %w", i, c.Nickname, err)
				}
				for col, v := range attrs {
					priv[col] = v
				}
			}
			out.public = append(out.public, pub)
			out.private = append(out.private, priv)
		}
	}
	return out, nil
}

// keyObjects returns the certificate's CKA_ID as NSS computes it
// (PK11_MakeIDFromPubKey: SHA-1 of the RSA modulus or of the raw EC point)
// and its public and private key objects.
func keyObjects(x *x509.Certificate) (id []byte, pub, priv object, err error) {
	common := func(class, keyType uint32) object {
		return object{"a0": ulong(class), "a1": {1}, "a2": {0}, "a3": explicitNull, "a100": ulong(keyType),
			"a101": explicitNull, "a110": explicitNull, "a111": explicitNull, "a163": {0}, "a170": {1}}
	}
	switch k := x.PublicKey.(type) {
	case *rsa.PublicKey:
		mod := k.N.Bytes()
		e := big32(uint32(k.E))
		sum := sha1.Sum(mod)
		pub = common(ckoPublicKey, ckkRSA)
		pub["a120"], pub["a122"] = mod, e
		priv = common(ckoPrivateKey, ckkRSA)
		priv["a2"] = []byte{1}
		priv["a120"], priv["a122"], priv["ad5a0db00"] = mod, e, mod
		return sum[:], pub, priv, nil
	case *ecdsa.PublicKey:
		point, err := k.Bytes()
		if err != nil {
			return nil, nil, nil, err
		}
		params, err := curveOID(x)
		if err != nil {
			return nil, nil, nil, err
		}
		wrapped, _ := asn1.Marshal(point) // CKA_EC_POINT is an OCTET STRING
		sum := sha1.Sum(point)
		pub = common(ckoPublicKey, ckkEC)
		pub["a180"], pub["a181"] = params, wrapped
		priv = common(ckoPrivateKey, ckkEC)
		priv["a2"] = []byte{1}
		priv["a180"], priv["ad5a0db00"] = params, point
		return sum[:], pub, priv, nil
	case ed25519.PublicKey:
		sum := sha1.Sum(k)
		pub = common(ckoPublicKey, ckkEdwards)
		priv = common(ckoPrivateKey, ckkEdwards)
		priv["a2"] = []byte{1}
		return sum[:], pub, priv, nil
	}
	return nil, nil, nil, fmt.Errorf("unsupported public key type %T", x.PublicKey)
}

// curveOID returns the DER OID of the certificate's named curve (the
// SubjectPublicKeyInfo algorithm parameters).
func curveOID(x *x509.Certificate) ([]byte, error) {
	var spki struct {
		Algorithm struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.RawValue `asn1:"optional"`
		}
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(x.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil, fmt.Errorf("public key info: %w", err)
	}
	if len(spki.Algorithm.Parameters.FullBytes) == 0 {
		return nil, errors.New("EC key without curve parameters")
	}
	return spki.Algorithm.Parameters.FullBytes, nil
}

func big32(n uint32) []byte {
	b := binary.BigEndian.AppendUint32(nil, n)
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

func ulong(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

// writeDB creates the table (with the indexes NSS creates) and inserts objs
// in one transaction. The key database also gets NSS's metaData table.
func writeDB(ctx context.Context, path, table, extraCols string, objs []object, meta map[string][2][]byte) error {
	keyDB := meta != nil || table == "nssPrivate"
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	cols := strings.Fields(columns87 + " " + extraCols)
	stmts := []string{
		"CREATE TABLE " + table + " (id PRIMARY KEY UNIQUE ON CONFLICT ABORT, " + strings.Join(cols, ", ") + ")",
		"CREATE INDEX issuer ON " + table + " (a81)",
		"CREATE INDEX subject ON " + table + " (a101)",
		"CREATE INDEX label ON " + table + " (a3)",
		"CREATE INDEX ckaid ON " + table + " (a102)",
	}
	if keyDB {
		stmts = append(stmts, "CREATE TABLE metaData (id PRIMARY KEY UNIQUE ON CONFLICT REPLACE, item1, item2)")
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(cols)+1), ", ")
	ins, err := tx.PrepareContext(ctx, "INSERT INTO "+table+" (id, "+strings.Join(cols, ", ")+") VALUES ("+ph+")")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer ins.Close()
	args := make([]any, len(cols)+1)
	for i, o := range objs {
		args[0] = int64(firstID + i)
		for j, c := range cols {
			if v, ok := o[c]; ok {
				args[j+1] = v
			} else {
				args[j+1] = nil
			}
		}
		if _, err := ins.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("writing %s: object %d: %w", path, i, err)
		}
	}
	for id, items := range meta {
		if _, err := tx.ExecContext(ctx, "INSERT INTO metaData (id, item1, item2) VALUES (?, ?, ?)", id, items[0], items[1]); err != nil {
			return fmt.Errorf("writing %s: metaData %s: %w", path, id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// trustObjects returns the trust object(s) for a certificate.
func trustObjects(t Trust, x *x509.Certificate, serial []byte, class TrustClass) []object {
	var out []object
	if class == TrustNSS || class == TrustBoth {
		s1 := sha1.Sum(x.Raw)
		m5 := md5.Sum(x.Raw)
		step := byte(0)
		if t.SSL&certdb.GovtApprovedCA != 0 {
			step = 1
		}
		out = append(out, object{
			"a0": ulong(ckoNSSTrust), "a1": {1}, "a2": {0}, "a3": explicitNull,
			"a81": x.RawIssuer, "a82": serial, "a170": {1},
			"ace536358": ulong(nssValue(stanLevel(t.SSL, false))),
			"ace536359": ulong(nssValue(stanLevel(t.SSL, true))),
			"ace53635a": ulong(nssValue(stanLevel(t.ObjectSigning, false))),
			"ace53635b": ulong(nssValue(stanLevel(t.Email, false))),
			"ace536360": {step}, "ace5363b4": s1[:], "ace5363b5": m5[:],
		})
	}
	if class == TrustPKCS11 || class == TrustBoth {
		s256 := sha256.Sum256(x.Raw)
		out = append(out, object{
			"a0": ulong(ckoTrust), "a1": {1}, "a2": {0}, "a3": explicitNull,
			"a81": x.RawIssuer, "a82": serial, "a170": {1},
			"a62c": ulong(pkcs11Value(stanLevel(t.SSL, false))),
			"a62d": ulong(pkcs11Value(stanLevel(t.SSL, true))),
			"a62e": ulong(pkcs11Value(stanLevel(t.ObjectSigning, false))),
			"a62f": ulong(pkcs11Value(stanLevel(t.Email, false))),
			"a635": s256[:], "a8c": ulong(ckmSHA256),
		})
	}
	return out
}
