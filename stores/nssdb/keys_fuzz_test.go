package nssdb

import (
	"path/filepath"
	"testing"
)

// FuzzJudgeKey feeds arbitrary key object attributes (and a real empty
// password key) to the key judge: never a panic, never "verified" without
// decrypting a private half, and the PBKDF2 budget is never overspent by
// more than one value.
func FuzzJudgeKey(f *testing.F) {
	db, err := openTestDB(filepath.Join("testdata", "basic", KeyDBName))
	if err != nil {
		f.Fatal(err)
	}
	var salt []byte
	if err := db.QueryRow("SELECT item1 FROM metaData WHERE id = 'password'").Scan(&salt); err != nil {
		f.Fatal(err)
	}
	rows, err := db.Query("SELECT a100, a120, ad5a0db00, a180, a11, a124, a125 FROM nssPrivate")
	if err != nil {
		f.Fatal(err)
	}
	for rows.Next() {
		var kt, mod, pt, par, val, p1, p2 []byte
		if err := rows.Scan(&kt, &mod, &pt, &par, &val, &p1, &p2); err != nil {
			f.Fatal(err)
		}
		f.Add(salt, kt, mod, pt, par, val, p1, p2)
	}
	rows.Close()
	db.Close()
	f.Add([]byte{}, ulongBytes(keyTypeEC), []byte(nil), []byte{4, 1, 2}, []byte{6, 1, 0}, []byte{0x30, 0}, []byte(nil), []byte(nil))
	f.Fuzz(func(t *testing.T, salt, kt, mod, pt, par, val, p1, p2 []byte) {
		r := keyRow{id: []byte{1}, keyType: kt, modulus: mod, point: pt, ecParams: par, value: val, prime1: p1, prime2: p2}
		for _, pbe := range [][]byte{nil, pbeKey(salt, "")} {
			budget := maxIterations * 2
			obj := judgeKey(&r, pbe, "fuzz", &budget)
			if pbe == nil && obj.kind == keyVerified {
				t.Fatal("verified without a password key")
			}
			if budget < -maxIterations {
				t.Fatalf("budget overspent: %d", budget)
			}
			_ = obj.kind.rank()
		}
	})
}

// FuzzDecryptValue: arbitrary bytes never panic the PBES2 and PKCS #12
// 3DES decoders (a seed in testdata/fuzz is an upgraded key3.db's password
// check), and a plaintext never comes back longer than its ciphertext.
func FuzzDecryptValue(f *testing.F) {
	db, err := openTestDB(filepath.Join("testdata", "basic", KeyDBName))
	if err != nil {
		f.Fatal(err)
	}
	var salt, check []byte
	if err := db.QueryRow("SELECT item1, item2 FROM metaData WHERE id = 'password'").Scan(&salt, &check); err != nil {
		f.Fatal(err)
	}
	db.Close()
	f.Add(check, salt)
	f.Add([]byte{0x30, 0x03, 0x30, 0x01, 0x00}, []byte{})
	f.Fuzz(func(t *testing.T, blob, salt []byte) {
		plain, n, err := decryptValue(blob, pbeKey(salt, ""))
		if n > maxIterations {
			t.Fatalf("%d iterations", n)
		}
		if err == nil && len(plain) >= len(blob) {
			t.Fatalf("plaintext of %d bytes from %d", len(plain), len(blob))
		}
	})
}
