package nssdb

import (
	"crypto/x509/pkix"
	"encoding/asn1"
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
		{"another scheme", mustMarshal(t, encryptedValue{Alg: pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 5, 1, 3}}, Data: make([]byte, 16)}), "unsupported"},
		{"PBES2 without parameters", mustMarshal(t, encryptedValue{Alg: pkix.AlgorithmIdentifier{Algorithm: oidPBES2}, Data: make([]byte, 16)}), "PBES2 parameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decryptValue(tc.blob, key)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	require.NoError(t, err)
	return b
}
