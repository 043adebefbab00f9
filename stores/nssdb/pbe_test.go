package nssdb

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reencodeIterations rewrites an encrypted value's PBKDF2 iteration count
// (tests only).
func reencodeIterations(blob []byte, n int) ([]byte, error) {
	var ev encryptedValue
	if _, err := asn1.Unmarshal(blob, &ev); err != nil {
		return nil, err
	}
	var p pbes2Params
	if _, err := asn1.Unmarshal(ev.Alg.Parameters.FullBytes, &p); err != nil {
		return nil, err
	}
	var kp pbkdf2Params
	if _, err := asn1.Unmarshal(p.KDF.Parameters.FullBytes, &kp); err != nil {
		return nil, err
	}
	kp.Iterations = n
	kdf, err := asn1.Marshal(kp)
	if err != nil {
		return nil, err
	}
	p.KDF.Parameters = asn1.RawValue{FullBytes: kdf}
	params, err := asn1.Marshal(p)
	if err != nil {
		return nil, err
	}
	ev.Alg = pkix.AlgorithmIdentifier{Algorithm: ev.Alg.Algorithm, Parameters: asn1.RawValue{FullBytes: params}}
	return asn1.Marshal(ev)
}

func TestDecryptValueRejectsBadInput(t *testing.T) {
	key := pbeKey([]byte("salt"), "")
	for _, tc := range []struct {
		name string
		blob []byte
		err  string
	}{
		{"empty", nil, "encrypted value"},
		{"not DER", []byte{0xff, 0x01}, "encrypted value"},
		{"another scheme", mustMarshal(t, encryptedValue{Alg: pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}}, Data: make([]byte, 16)}), "unsupported"},
		{"3DES without parameters", mustMarshal(t, encryptedValue{Alg: pkix.AlgorithmIdentifier{Algorithm: oidPBESHA13DES}, Data: make([]byte, 16)}), "PKCS #12 PBE parameters"},
		{"3DES with a huge iteration count", legacyBlob(t, make([]byte, 20), maxIterations+1, make([]byte, 16)), "iteration count"},
		{"3DES without salt", legacyBlob(t, nil, 1, make([]byte, 16)), "salt of 0 bytes"},
		{"3DES ciphertext not whole blocks", legacyBlob(t, make([]byte, 20), 1, make([]byte, 15)), "not whole 3DES blocks"},
		{"PBES2 without parameters", mustMarshal(t, encryptedValue{Alg: pkix.AlgorithmIdentifier{Algorithm: oidPBES2}, Data: make([]byte, 16)}), "PBES2 parameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decryptValue(tc.blob, key)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
}

// legacyBlob writes a value under pbeWithSHA1AndTripleDES-CBC.
func legacyBlob(t *testing.T, salt []byte, iterations int, data []byte) []byte {
	t.Helper()
	params := mustMarshal(t, pbeParams{Salt: salt, Iterations: iterations})
	return mustMarshal(t, encryptedValue{Alg: pkix.AlgorithmIdentifier{Algorithm: oidPBESHA13DES,
		Parameters: asn1.RawValue{FullBytes: params}}, Data: data})
}

// The "password" row of a key4.db that NSS 3.87 upgraded from a key3.db
// made with an empty password (certutil -N -d dbm: --empty-password, then
// certutil -M -d sql:): its check value is under pbeWithSHA1AndTripleDES-CBC.
const (
	upgradedGlobalSalt = "DD1CECF068A238F6A3CAC3E7F63BA5E1EFF07947"
	upgradedCheck      = "303C3028060B2A864886F70D010C05010330190414BC5CFF4EFB04B420C429F9D7AD521C834A1EDEB90201010410A7541E2C719329F1A2070991790E838C"
)

func TestDecryptLegacy3DESValue(t *testing.T) {
	salt, err := hex.DecodeString(upgradedGlobalSalt)
	require.NoError(t, err)
	check, err := hex.DecodeString(upgradedCheck)
	require.NoError(t, err)
	for _, tc := range []struct {
		name     string
		password string
		want     []byte
		err      error
	}{
		{name: "empty password, as the database was made", password: "", want: passwordCheck},
		{name: "any other password fails", password: "x", err: errBadPadding},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plain, n, err := decryptValue(check, pbeKey(salt, tc.password))
			assert.Equal(t, 1, n, "iterations")
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, plain)
		})
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	require.NoError(t, err)
	return b
}
