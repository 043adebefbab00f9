package edge

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/certsight/certsight/cert"
)

// Errors of ClientCertFromHeaders.
var (
	// ErrNoClientCert means the request carries no Client-Cert (and no
	// Client-Cert-Chain).
	ErrNoClientCert = errors.New("no Client-Cert header")
	// ErrMalformedClientCert means the headers break RFC 9440; treat the
	// request as carrying no certificate (or refuse it).
	ErrMalformedClientCert = errors.New("malformed RFC 9440 header")
)

// maxChainMembers bounds Client-Cert-Chain (RFC 8941 parsers must accept
// 1024 members; no real chain comes near).
const maxChainMembers = 1024

// ClientCertFromHeaders is the origin side: it parses the RFC 9440
// Client-Cert and Client-Cert-Chain headers of a request strictly — exactly
// one Client-Cert field line holding one byte sequence, a chain only with a
// Client-Cert, every member a byte sequence holding one DER certificate.
//
// The result is trustworthy only when the request came from a trusted
// TLS-terminating proxy (such as certsight-edge) over a path no one else can
// reach, because that proxy deletes client copies before it sets these
// headers (RFC 9440 §4). Anyone who can reach the origin directly can send
// any value. The certificates are returned as the proxy sent them; they are
// not verified here.
func ClientCertFromHeaders(h http.Header) (leaf *x509.Certificate, chain []*x509.Certificate, err error) {
	leafVals := h.Values("Client-Cert")
	chainVals := h.Values("Client-Cert-Chain")
	if len(leafVals) == 0 {
		if len(chainVals) > 0 {
			return nil, nil, fmt.Errorf("Client-Cert-Chain without Client-Cert: %w", ErrMalformedClientCert)
		}
		return nil, nil, ErrNoClientCert
	}
	if len(leafVals) > 1 {
		return nil, nil, fmt.Errorf("Client-Cert sent %d times, it is a singleton: %w", len(leafVals), ErrMalformedClientCert)
	}
	der, err := cert.ParseClientCert(leafVals[0])
	if err != nil {
		return nil, nil, fmt.Errorf("Client-Cert: %v: %w", err, ErrMalformedClientCert)
	}
	leaf, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("Client-Cert: certificate: %v: %w", err, ErrMalformedClientCert)
	}
	if len(chainVals) == 0 {
		return leaf, nil, nil
	}
	// Several field lines form one list (RFC 8941 §4.2).
	ders, err := cert.ParseClientCertChain(strings.Join(chainVals, ","))
	if err != nil {
		return nil, nil, fmt.Errorf("Client-Cert-Chain: %v: %w", err, ErrMalformedClientCert)
	}
	if len(ders) > maxChainMembers {
		return nil, nil, fmt.Errorf("Client-Cert-Chain: %d members, more than %d: %w", len(ders), maxChainMembers, ErrMalformedClientCert)
	}
	for i, d := range ders {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			return nil, nil, fmt.Errorf("Client-Cert-Chain member %d: %v: %w", i+1, err, ErrMalformedClientCert)
		}
		chain = append(chain, c)
	}
	return leaf, chain, nil
}
