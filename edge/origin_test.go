package edge

import (
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certsight/certsight/cert"
)

func TestClientCertFromHeaders(t *testing.T) {
	p := newPKI(t)
	leaf := cert.EncodeClientCert(p.leaf.Cert.Raw)
	chain := cert.EncodeClientCertChain([][]byte{p.inter.Cert.Raw})
	cases := []struct {
		name    string
		h       http.Header
		want    error
		nChain  int
		hasLeaf bool
	}{
		{"leaf and chain", http.Header{"Client-Cert": {leaf}, "Client-Cert-Chain": {chain}}, nil, 1, true},
		{"chain split over two lines", http.Header{"Client-Cert": {leaf}, "Client-Cert-Chain": {chain, chain}}, nil, 2, true},
		{"leaf only", http.Header{"Client-Cert": {leaf}}, nil, 0, true},
		{"nothing", http.Header{}, ErrNoClientCert, 0, false},
		{"chain without leaf", http.Header{"Client-Cert-Chain": {chain}}, ErrMalformedClientCert, 0, false},
		{"leaf twice", http.Header{"Client-Cert": {leaf, leaf}}, ErrMalformedClientCert, 0, false},
		{"leaf as a list", http.Header{"Client-Cert": {leaf + ", " + leaf}}, ErrMalformedClientCert, 0, false},
		{"PEM instead of a byte sequence", http.Header{"Client-Cert": {"-----BEGIN CERTIFICATE-----"}}, ErrMalformedClientCert, 0, false},
		{"URL-safe base64", http.Header{"Client-Cert": {":ab-_:"}}, ErrMalformedClientCert, 0, false},
		{"bytes that are no certificate", http.Header{"Client-Cert": {":Zm9vYmFy:"}}, ErrMalformedClientCert, 0, false},
		{"chain member that is no certificate", http.Header{"Client-Cert": {leaf}, "Client-Cert-Chain": {chain + ", :Zm9v:"}}, ErrMalformedClientCert, 0, false},
		{"chain with a trailing comma", http.Header{"Client-Cert": {leaf}, "Client-Cert-Chain": {chain + ","}}, ErrMalformedClientCert, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, c, err := ClientCertFromHeaders(tc.h)
			if tc.want != nil {
				require.Error(t, err)
				assert.True(t, errors.Is(err, tc.want), "%v", err)
				assert.Nil(t, l)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, p.leaf.Cert.Raw, l.Raw)
			assert.Len(t, c, tc.nChain)
		})
	}
}
