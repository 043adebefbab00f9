package metrics

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestHandshakeReason pins the classes of net/http's handshake error texts
// (as crypto/tls words them), first match wins.
func TestHandshakeReason(t *testing.T) {
	cases := []struct {
		msg  string
		want string
	}{
		{"http: TLS handshake error from 127.0.0.1:1: tls: client didn't provide a certificate", "client_certificate"},
		{"http: TLS handshake error from 127.0.0.1:1: tls: failed to verify client certificate: x509: unknown authority", "client_certificate"},
		{"http: TLS handshake error from 127.0.0.1:1: EOF", "eof"},
		{"http: TLS handshake error from 127.0.0.1:1: read tcp: connection reset by peer", "eof"},
		{"http: TLS handshake error from 127.0.0.1:1: write tcp: broken pipe", "eof"},
		{"http: TLS handshake error from 127.0.0.1:1: read tcp: i/o timeout", "timeout"},
		{"http: TLS handshake error from 127.0.0.1:1: context deadline exceeded", "timeout"},
		{"http: TLS handshake error from 127.0.0.1:1: tls: first record does not look like a TLS handshake", "not_tls"},
		{"http: TLS handshake error from 127.0.0.1:1: client sent an HTTP request to an HTTPS server", "not_tls"},
		{"http: TLS handshake error from 127.0.0.1:1: tls: client offered only unsupported versions: [302]", "negotiation"},
		{"http: TLS handshake error from 127.0.0.1:1: tls: no cipher suite supported by both client and server", "negotiation"},
		{"http: TLS handshake error from 127.0.0.1:1: tls: client requested unsupported application protocols ([x]): no application protocol", "negotiation"},
		{"http: TLS handshake error from 127.0.0.1:1: too many certificates in the chain", "chain_limits"},
		{"http: TLS handshake error from 127.0.0.1:1: chain too long", "chain_limits"},
		{"http: TLS handshake error from 127.0.0.1:1: EOF while reading the client certificate", "client_certificate"},
		{"http: TLS handshake error from 127.0.0.1:1: remote error: tls: bad certificate", "other"},
		{"", "other"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, HandshakeReason(tc.msg), tc.msg)
	}
}
