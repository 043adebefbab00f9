package cert_test

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/cert"
)

func TestEncodeClientCert(t *testing.T) {
	leaf := fixtureCert(t, "leaf.pem")
	got := cert.EncodeClientCert(leaf.Raw)
	assert.Equal(t, ":"+base64.StdEncoding.EncodeToString(leaf.Raw)+":", got, "colon, padded standard base64 of the DER, colon")
	assert.Equal(t, loadExpected(t).fact(t, "leaf.pem", "rfc9440_len"), strconv.Itoa(len(got)), "length agrees with openssl base64 -A of the DER plus two colons")

	back, err := cert.ParseClientCert(got)
	require.NoError(t, err)
	assert.Equal(t, leaf.Raw, back, "round trip gives the DER back")
}

func TestEncodeClientCertChain(t *testing.T) {
	inter, root := fixtureCert(t, "inter.pem"), fixtureCert(t, "root.pem")
	got := cert.EncodeClientCertChain([][]byte{inter.Raw, root.Raw})
	assert.Equal(t, cert.EncodeClientCert(inter.Raw)+", "+cert.EncodeClientCert(root.Raw), got, "members joined by comma and one space")

	back, err := cert.ParseClientCertChain(got)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{inter.Raw, root.Raw}, back, "round trip keeps order")

	assert.Equal(t, "", cert.EncodeClientCertChain(nil), "no chain, empty value (an empty list is never sent)")
	assert.Equal(t, "", cert.EncodeClientCertChain([][]byte{}))
}

func TestRFC9440SizeLimits(t *testing.T) {
	exp := loadExpected(t)
	big := fixtureCert(t, "big.pem")
	enc := cert.EncodeClientCert(big.Raw)
	assert.Greater(t, len(enc), cert.MaxClientCertLen, "the large fixture is too large for Client-Cert")
	assert.Equal(t, exp.fact(t, "big.pem", "rfc9440_len"), strconv.Itoa(len(enc)))
	assert.Greater(t, len(cert.EncodeClientCertChain([][]byte{big.Raw})), cert.MaxClientCertChainLen, "and for Client-Cert-Chain")
	assert.LessOrEqual(t, len(cert.EncodeClientCert(fixtureCert(t, "leaf.pem").Raw)), cert.MaxClientCertLen, "an ordinary leaf fits")

	back, err := cert.ParseClientCert(enc)
	require.NoError(t, err, "parsers accept values beyond the forwarding limit (RFC 8941 asks for >= 16384 octets)")
	assert.Equal(t, big.Raw, back)
	assert.Equal(t, 10240, cert.MaxClientCertLen)
	assert.Equal(t, 16384, cert.MaxClientCertChainLen)
}

func TestParseClientCert(t *testing.T) {
	// "MIIB" decodes to 30 82 01; "AQID" to 01 02 03; "AQI" (unpadded) to 01 02.
	tests := []struct {
		name string
		in   string
		want []byte // nil: must fail
	}{
		{"plain byte sequence", ":AQID:", []byte{1, 2, 3}},
		{"padded", ":AQI=:", []byte{1, 2}},
		{"missing padding is accepted", ":AQI:", []byte{1, 2}},
		{"missing double padding is accepted", ":AQ:", []byte{1}},
		{"partly missing padding is accepted", ":AQ=:", []byte{1}},
		{"non-zero pad bits are accepted", ":AR==:", []byte{1}},
		{"leading and trailing spaces are accepted", "  :AQID:  ", []byte{1, 2, 3}},
		{"empty value", "", nil},
		{"only spaces", "   ", nil},
		{"empty byte sequence", "::", nil},
		{"padding only", ":==:", nil},
		{"missing opening colon", "AQID:", nil},
		{"missing closing colon", ":AQID", nil},
		{"no colons", "AQID", nil},
		{"URL-safe alphabet is outside the alphabet", ":-_8=:", nil},
		{"space inside", ":AQ ID:", nil},
		{"line feed inside", ":AQ\nID:", nil},
		{"line feed after", ":AQID:\n", nil},
		{"tab before is not SP", "\t:AQID:", nil},
		{"tab after is not SP", ":AQID:\t", nil},
		{"non-ASCII", ":AQIDé:", nil},
		{"parameters are not allowed", ":AQID:;a=1", nil},
		{"a list is not allowed", ":AQID:, :AQID:", nil},
		{"an inner list is not allowed", "(:AQID:)", nil},
		{"a token is not a byte sequence", "AQID", nil},
		{"a string is not a byte sequence", `"AQID"`, nil},
		{"padding in the middle", ":AQ==AQ==:", nil},
		{"too much padding", ":AQID=:", nil},
		{"three padding characters", ":AQ===:", nil},
		{"a single base64 character cannot be decoded", ":A:", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cert.ParseClientCert(tt.in)
			if tt.want == nil {
				assert.Error(t, err)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseClientCertChain(t *testing.T) {
	a, b := []byte{1, 2, 3}, []byte{4, 5, 6}
	tests := []struct {
		name string
		in   string
		want [][]byte // nil: must fail
	}{
		{"one member", ":AQID:", [][]byte{a}},
		{"two members as serialized", ":AQID:, :BAUG:", [][]byte{a, b}},
		{"no space after the comma", ":AQID:,:BAUG:", [][]byte{a, b}},
		{"optional spaces and tabs around commas", ":AQID: \t ,\t  :BAUG:", [][]byte{a, b}},
		{"leading and trailing spaces", "  :AQID:, :BAUG:  ", [][]byte{a, b}},
		{"missing padding in a member", ":AQI:, :BAUG:", [][]byte{{1, 2}, b}},
		{"empty value", "", nil},
		{"empty member", ":AQID:, , :BAUG:", nil},
		{"leading comma", ", :AQID:", nil},
		{"trailing comma", ":AQID:, :BAUG:,", nil},
		{"trailing comma and space", ":AQID:, ", nil},
		{"missing comma", ":AQID: :BAUG:", nil},
		{"missing closing colon in last member", ":AQID:, :BAUG", nil},
		{"missing opening colon", ":AQID:, BAUG:", nil},
		{"chars outside the alphabet", ":AQID:, :BA.UG:", nil},
		{"parameters on a member", ":AQID:;a=1, :BAUG:", nil},
		{"parameters on the last member", ":AQID:, :BAUG:;a", nil},
		{"inner list", "(:AQID: :BAUG:)", nil},
		{"inner list as second member", ":AQID:, (:BAUG:)", nil},
		{"line feed between members", ":AQID:,\n:BAUG:", nil},
		{"semicolon instead of comma", ":AQID:; :BAUG:", nil},
		{"empty byte sequence member", ":AQID:, ::", nil},
		{"tab before the list is not SP", "\t:AQID:", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cert.ParseClientCertChain(tt.in)
			if tt.want == nil {
				assert.Error(t, err)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseClientCertChainManyMembers(t *testing.T) {
	members := make([][]byte, 1024)
	for i := range members {
		members[i] = []byte{byte(i), byte(i >> 8), 0xff}
	}
	got, err := cert.ParseClientCertChain(cert.EncodeClientCertChain(members))
	require.NoError(t, err, "RFC 8941 parsers must support at least 1024 members")
	assert.Equal(t, members, got)
}

func TestParseClientCertErrorsSayWhere(t *testing.T) {
	_, err := cert.ParseClientCertChain(":AQID:, :BA.UG:")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "member 2")
	assert.ErrorIs(t, err, cert.ErrBadBase64)

	_, err = cert.ParseClientCertChain(":AQID:,")
	assert.ErrorIs(t, err, cert.ErrBadListSyntax)

	_, err = cert.ParseClientCert("")
	assert.ErrorIs(t, err, cert.ErrEmptyField)

	_, err = cert.ParseClientCert(":AQID:;a=1")
	assert.ErrorIs(t, err, cert.ErrNotByteSeq)
	assert.True(t, strings.Contains(err.Error(), "offset 6"), err.Error())
}
