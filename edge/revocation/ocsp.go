package revocation

import (
	"context"
	"crypto/x509"
	"time"
)

// OCSPStatus is an OCSP answer as verification uses it.
type OCSPStatus int

const (
	// OCSPGood: a valid response says good, or OCSP does not cover the
	// certificate (no responder named or configured).
	OCSPGood OCSPStatus = iota
	// OCSPRevoked: a valid response says revoked. It wins over a good CRL.
	OCSPRevoked
	// OCSPUnknown: the responder said unknown, or no valid answer came in
	// time (unreachable, slow, bad signer, other serial). It falls under the
	// fail Policy like a stale CRL.
	OCSPUnknown
)

// OCSPChecker asks OCSP about cert as issued by issuer. It lives here, not
// in the OCSP client's package, so verification needs no import of it.
type OCSPChecker interface {
	// CheckOCSP returns the status and until when it holds (zero: no
	// bound). It must return within a bound of its own, whatever ctx says.
	CheckOCSP(ctx context.Context, cert, issuer *x509.Certificate) (OCSPStatus, time.Time)
}
