package nssdb

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
)

// How key4.db encrypts (nss lib/softoken/sftkpwd.c, lowpbe.c): each private
// attribute, and the "password-check" value in metaData, is a DER
//
//	SEQUENCE { AlgorithmIdentifier (PKCS #5 PBES2), OCTET STRING ciphertext }
//
// with PBKDF2-HMAC-SHA256 (32-byte salt; 1 iteration for an empty password,
// 10,000 otherwise) and AES-256-CBC. The PBKDF2 password is not the user's
// password but SHA-1(global salt ‖ password), the global salt being item1 of
// metaData's "password" row (sftkdb_passwordToKey). NSS stores a 14-byte IV
// and uses the IV's DER encoding (04 0e ‖ iv) as the 16-byte CBC IV — a quirk
// of its PBES2 code that every key4.db carries.

// Key databases written before NSS 3.45 (and every key4.db upgraded from a
// key3.db by an NSS of that age) encrypt with PKCS #12's early
// pbeWithSHA1AndTripleDES-CBC instead (1.2.840.113549.1.12.5.1.3;
// lowpbe.c nsspkcs5_PFXPBE): parameters SEQUENCE { salt, iterations }; from
// the same SHA-1(global salt ‖ password) "hp", chp = SHA-1(hp ‖ salt)
// (hashed again for each further iteration), pes = salt zero-padded to 20
// bytes, k1 = HMAC-SHA1(chp, pes ‖ salt), k2 = HMAC-SHA1(chp,
// HMAC-SHA1(chp, pes) ‖ salt); the 3DES key is the first 24 bytes of k1 ‖ k2
// and the CBC IV its last 8.

var (
	oidPBES2       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBESHA13DES = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 5, 1, 3}
	oidPBKDF2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA256  = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidAES256CBC   = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

// passwordCheck is what metaData's "password" item decrypts to.
var passwordCheck = []byte("password-check")

// maxIterations bounds one PBKDF2 run: NSS uses 10,000 (more only when
// NSS_MIN_MP_PBE_ITERATION_COUNT is raised); key4.db is user-writable, and a
// crafted count must not cost minutes of CPU.
const maxIterations = 100_000

// errUnsupportedPBE marks an encryption scheme this reader does not decrypt
// (any but PBES2/AES-256 and PKCS #12 SHA-1/3DES): the key is then reported
// locked, not broken.
var errUnsupportedPBE = errors.New("unsupported key encryption scheme")

type encryptedValue struct {
	Alg  pkix.AlgorithmIdentifier
	Data []byte
}

type pbes2Params struct {
	KDF    pkix.AlgorithmIdentifier
	Cipher pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int                      `asn1:"optional"`
	PRF        pkix.AlgorithmIdentifier `asn1:"optional"`
}

// pbeKey is the PBKDF2 password for a database's global salt and a user
// password ("" for the default, empty password).
func pbeKey(globalSalt []byte, password string) []byte {
	h := sha1.New()
	h.Write(globalSalt)
	h.Write([]byte(password))
	return h.Sum(nil)
}

// decryptValue decrypts one key4.db encrypted value with the PBKDF2 password
// key, and returns the plaintext and the PBKDF2 iterations it cost. Every
// malformed or unsupported part is an error; nothing panics on bad input.
func decryptValue(blob, key []byte) (plain []byte, iterations int, err error) {
	var ev encryptedValue
	if rest, err := asn1.Unmarshal(blob, &ev); err != nil {
		return nil, 0, fmt.Errorf("encrypted value: %w", err)
	} else if len(rest) > 0 {
		return nil, 0, errors.New("encrypted value: trailing data")
	}
	if ev.Alg.Algorithm.Equal(oidPBESHA13DES) {
		return decrypt3DES(ev, key)
	}
	if !ev.Alg.Algorithm.Equal(oidPBES2) {
		return nil, 0, fmt.Errorf("%w %s", errUnsupportedPBE, ev.Alg.Algorithm)
	}
	var p pbes2Params
	if _, err := asn1.Unmarshal(ev.Alg.Parameters.FullBytes, &p); err != nil {
		return nil, 0, fmt.Errorf("PBES2 parameters: %w", err)
	}
	if !p.KDF.Algorithm.Equal(oidPBKDF2) || !p.Cipher.Algorithm.Equal(oidAES256CBC) {
		return nil, 0, fmt.Errorf("%w: PBES2 with %s and %s", errUnsupportedPBE, p.KDF.Algorithm, p.Cipher.Algorithm)
	}
	var kp pbkdf2Params
	if _, err := asn1.Unmarshal(p.KDF.Parameters.FullBytes, &kp); err != nil {
		return nil, 0, fmt.Errorf("PBKDF2 parameters: %w", err)
	}
	if len(kp.PRF.Algorithm) > 0 && !kp.PRF.Algorithm.Equal(oidHMACSHA256) {
		return nil, 0, fmt.Errorf("%w: PBKDF2 with %s", errUnsupportedPBE, kp.PRF.Algorithm)
	}
	if kp.KeyLength != 0 && kp.KeyLength != 32 {
		return nil, 0, fmt.Errorf("PBKDF2 key length %d, want 32", kp.KeyLength)
	}
	if kp.Iterations < 1 || kp.Iterations > maxIterations {
		return nil, 0, fmt.Errorf("PBKDF2 iteration count %d outside 1..%d", kp.Iterations, maxIterations)
	}
	var iv []byte
	if _, err := asn1.Unmarshal(p.Cipher.Parameters.FullBytes, &iv); err != nil {
		return nil, 0, fmt.Errorf("AES IV: %w", err)
	}
	switch len(iv) {
	case 14: // NSS: the IV's own DER encoding is the CBC IV
		iv = append([]byte{0x04, 0x0e}, iv...)
	case aes.BlockSize:
	default:
		return nil, 0, fmt.Errorf("AES IV is %d bytes", len(iv))
	}
	if len(ev.Data) == 0 || len(ev.Data)%aes.BlockSize != 0 {
		return nil, 0, fmt.Errorf("ciphertext of %d bytes is not whole AES blocks", len(ev.Data))
	}
	k, err := pbkdf2.Key(sha256.New, string(key), kp.Salt, kp.Iterations, 32)
	if err != nil {
		return nil, kp.Iterations, fmt.Errorf("PBKDF2: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, kp.Iterations, err
	}
	out := make([]byte, len(ev.Data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, ev.Data)
	n := int(out[len(out)-1])
	if n == 0 || n > aes.BlockSize || !bytes.Equal(out[len(out)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		return nil, kp.Iterations, errBadPadding
	}
	return out[:len(out)-n], kp.Iterations, nil
}

type pbeParams struct {
	Salt       []byte
	Iterations int
}

// decrypt3DES decrypts a value under pbeWithSHA1AndTripleDES-CBC (see above)
// with hp, the SHA-1(global salt ‖ password) key.
func decrypt3DES(ev encryptedValue, hp []byte) (plain []byte, iterations int, err error) {
	var p pbeParams
	if rest, err := asn1.Unmarshal(ev.Alg.Parameters.FullBytes, &p); err != nil {
		return nil, 0, fmt.Errorf("PKCS #12 PBE parameters: %w", err)
	} else if len(rest) > 0 {
		return nil, 0, errors.New("PKCS #12 PBE parameters: trailing data")
	}
	if p.Iterations < 1 || p.Iterations > maxIterations {
		return nil, 0, fmt.Errorf("PKCS #12 PBE iteration count %d outside 1..%d", p.Iterations, maxIterations)
	}
	if len(p.Salt) == 0 || len(p.Salt) > 64 {
		return nil, 0, fmt.Errorf("PKCS #12 PBE salt of %d bytes", len(p.Salt))
	}
	if len(ev.Data) == 0 || len(ev.Data)%des.BlockSize != 0 {
		return nil, 0, fmt.Errorf("ciphertext of %d bytes is not whole 3DES blocks", len(ev.Data))
	}
	h := sha1.Sum(append(append([]byte(nil), hp...), p.Salt...))
	chp := h[:]
	for i := 1; i < p.Iterations; i++ {
		h = sha1.Sum(chp)
		chp = h[:]
	}
	pes := append([]byte(nil), p.Salt...)
	if len(pes) < sha1.Size {
		pes = append(pes, make([]byte, sha1.Size-len(pes))...)
	}
	mac := func(parts ...[]byte) []byte {
		m := hmac.New(sha1.New, chp)
		for _, b := range parts {
			m.Write(b)
		}
		return m.Sum(nil)
	}
	k := append(mac(pes, p.Salt), mac(mac(pes), p.Salt)...)
	block, err := des.NewTripleDESCipher(k[:24])
	if err != nil {
		return nil, p.Iterations, err
	}
	out := make([]byte, len(ev.Data))
	cipher.NewCBCDecrypter(block, k[len(k)-des.BlockSize:]).CryptBlocks(out, ev.Data)
	n := int(out[len(out)-1])
	if n == 0 || n > des.BlockSize || !bytes.Equal(out[len(out)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		return nil, p.Iterations, errBadPadding
	}
	return out[:len(out)-n], p.Iterations, nil
}

// errBadPadding is what a wrong password (or a corrupted value) gives.
var errBadPadding = errors.New("decryption failed (wrong password or corrupted value)")
