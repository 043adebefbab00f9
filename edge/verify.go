package edge

import (
	"crypto/x509"
	"errors"
	"time"

	"github.com/certsight/certsight/cert"
)

// Verification outcomes in the Workers form (request.cf.tlsClientAuth.certVerified).
const (
	VerifySuccess = "SUCCESS"
	VerifyNone    = "NONE"
	verifyFailed  = "FAILED:"
)

// Verifier checks a client's presented chain against trust anchors and, for
// a chain that verifies, against the CRLs.
type Verifier struct {
	// Roots are the trust anchors. Nil means no certificate can verify.
	Roots *x509.CertPool
	// CRLs, when set, decide cert_revoked for verified chains.
	CRLs *CRLSet
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Result is the outcome of verifying one connection's client certificate.
type Result struct {
	// Presented is true when the client sent at least one certificate.
	Presented bool
	// Verified is true when the chain built to a trust anchor with the
	// clientAuth usage. It stays true for a revoked certificate.
	Verified bool
	// Revoked is true when a current, correctly signed CRL lists the leaf or
	// an intermediate of the verified chain.
	Revoked bool
	// Reason says why verification failed, in OpenSSL's words ("certificate
	// has expired", "unable to get local issuer certificate", …).
	Reason string
	// Chain is the verified chain, leaf first, ending at the trust anchor.
	Chain []*x509.Certificate
}

// Outcome is the Workers certVerified string: "SUCCESS", "NONE" or "FAILED:<reason>".
func (r Result) Outcome() string {
	switch {
	case !r.Presented:
		return VerifyNone
	case r.Verified:
		return VerifySuccess
	}
	return verifyFailed + r.Reason
}

func (v *Verifier) now() time.Time {
	if v != nil && v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Verify checks peer, the certificates as the client sent them (leaf first).
// A nil Verifier verifies nothing: a presented certificate fails with
// "unable to get local issuer certificate".
func (v *Verifier) Verify(peer []*x509.Certificate) Result {
	if len(peer) == 0 {
		return Result{}
	}
	res := Result{Presented: true}
	now := v.now()
	if v == nil || v.Roots == nil {
		res.Reason = reasonUnknownAuthority(peer)
		return res
	}
	opts := x509.VerifyOptions{
		Roots:       v.Roots,
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if len(peer) > 1 {
		opts.Intermediates = x509.NewCertPool()
		for _, c := range peer[1:] {
			opts.Intermediates.AddCert(c)
		}
	}
	chains, err := peer[0].Verify(opts)
	if err != nil {
		res.Reason = reasonFor(err, peer, now)
		return res
	}
	res.Verified = true
	res.Chain = chains[0]
	if v.CRLs != nil {
		res.Revoked = v.CRLs.Revoked(res.Chain, now)
	}
	return res
}

// reasonFor maps Go's verification errors onto OpenSSL's error strings, which
// nginx's $ssl_client_verify and Cloudflare's certVerified print.
func reasonFor(err error, peer []*x509.Certificate, now time.Time) string {
	var inv x509.CertificateInvalidError
	var unk x509.UnknownAuthorityError
	var ins x509.InsecureAlgorithmError
	switch {
	case errors.As(err, &inv):
		switch inv.Reason {
		case x509.Expired:
			if inv.Cert != nil && now.Before(inv.Cert.NotBefore) {
				return "certificate is not yet valid"
			}
			return "certificate has expired"
		case x509.NotAuthorizedToSign, x509.CANotAuthorizedForThisName:
			return "invalid CA certificate"
		case x509.IncompatibleUsage, x509.CANotAuthorizedForExtKeyUsage:
			return "unsupported certificate purpose"
		case x509.TooManyIntermediates:
			return "certificate chain too long"
		case x509.NameMismatch:
			return "subject issuer mismatch"
		case x509.NameConstraintsWithoutSANs, x509.UnconstrainedName, x509.TooManyConstraints:
			return "permitted subtree violation"
		}
	case errors.As(err, &unk):
		return reasonUnknownAuthority(peer)
	case errors.As(err, &ins):
		return "certificate signature failure"
	}
	return "unspecified certificate verification error"
}

func reasonUnknownAuthority(peer []*x509.Certificate) string {
	if len(peer) == 1 && cert.IssuedBy(peer[0], peer[0]) {
		return "self signed certificate"
	}
	if last := peer[len(peer)-1]; len(peer) > 1 && cert.IssuedBy(last, last) {
		return "self signed certificate in certificate chain"
	}
	return "unable to get local issuer certificate"
}
