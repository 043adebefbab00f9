package testnss

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // NSS derives the PBE password with SHA-1
	"crypto/sha256"
	"encoding/asn1"
	"fmt"
)

// Private key material as NSS stores it in key4.db under the empty
// password (nss lib/softoken/sftkpwd.c): each private attribute is
// PBES2-encrypted (PBKDF2-HMAC-SHA256, 1 iteration for the empty password,
// AES-256-CBC with NSS's 14-byte IV whose DER encoding is the CBC IV), the
// PBKDF2 password being SHA-1(global salt ‖ ""). The metaData "password"
// row holds the global salt and the encrypted "password-check" value, which
// is how NSS (and the reader) know the password is empty.

var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

type algID struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

// encryptEmpty encrypts plain under the empty password of a database with
// globalSalt, as NSS 3.45 and later do.
func encryptEmpty(globalSalt, plain []byte) ([]byte, error) {
	salt := make([]byte, 32)
	iv := make([]byte, 14)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(iv); err != nil {
		return nil, err
	}
	pw := sha1.Sum(globalSalt) // SHA-1(global salt ‖ "")
	key, err := pbkdf2.Key(sha256.New, string(pw[:]), salt, 1, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	n := aes.BlockSize - len(plain)%aes.BlockSize
	padded := append(append([]byte{}, plain...), make([]byte, n)...)
	for i := len(plain); i < len(padded); i++ {
		padded[i] = byte(n)
	}
	cbcIV := append([]byte{0x04, 0x0e}, iv...)
	cipher.NewCBCEncrypter(block, cbcIV).CryptBlocks(padded, padded)

	prf, _ := asn1.Marshal(algID{Algorithm: oidHMACSHA256, Parameters: asn1.NullRawValue})
	kdfParams, err := asn1.Marshal(struct {
		Salt       []byte
		Iterations int
		KeyLength  int
		PRF        asn1.RawValue
	}{salt, 1, 32, asn1.RawValue{FullBytes: prf}})
	if err != nil {
		return nil, err
	}
	ivDER, _ := asn1.Marshal(iv)
	params, err := asn1.Marshal(struct{ KDF, Cipher algID }{
		algID{oidPBKDF2, asn1.RawValue{FullBytes: kdfParams}},
		algID{oidAES256CBC, asn1.RawValue{FullBytes: ivDER}},
	})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(struct {
		Alg  algID
		Data []byte
	}{algID{oidPBES2, asn1.RawValue{FullBytes: params}}, padded})
}

// privateAttributes returns key's private attributes, encrypted.
func privateAttributes(globalSalt []byte, key any) (object, error) {
	plain := map[string][]byte{}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if len(k.Primes) != 2 {
			return nil, fmt.Errorf("RSA key with %d primes", len(k.Primes))
		}
		k.Precompute()
		plain["a123"] = k.D.Bytes()
		plain["a124"] = k.Primes[0].Bytes()
		plain["a125"] = k.Primes[1].Bytes()
		plain["a126"] = k.Precomputed.Dp.Bytes()
		plain["a127"] = k.Precomputed.Dq.Bytes()
		plain["a128"] = k.Precomputed.Qinv.Bytes()
	case *ecdsa.PrivateKey:
		b, err := k.Bytes()
		if err != nil {
			return nil, err
		}
		plain["a11"] = b
	case ed25519.PrivateKey:
		plain["a11"] = k.Seed()
	default:
		return nil, fmt.Errorf("unsupported private key type %T", key)
	}
	out := object{}
	for col, v := range plain {
		enc, err := encryptEmpty(globalSalt, v)
		if err != nil {
			return nil, err
		}
		out[col] = enc
	}
	return out, nil
}

// passwordRow is the metaData "password" row of an empty-password database.
func passwordRow(globalSalt []byte) ([]byte, error) {
	return encryptEmpty(globalSalt, []byte("password-check"))
}
