package edge

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/certsight/certsight/cert"
	"github.com/certsight/certsight/edge/revocation"
)

// Verification outcomes in the Workers form (request.cf.tlsClientAuth.certVerified).
const (
	VerifySuccess = "SUCCESS"
	VerifyNone    = "NONE"
	verifyFailed  = "FAILED:"

	// ReasonCRLExpired is OpenSSL's wording for a covered issuer without a
	// current CRL; under revocation.FailClosed it fails verification.
	ReasonCRLExpired = "CRL has expired"
	// ReasonRevoked is OpenSSL's wording for a revoked certificate, used in
	// certVerified (the cert_verified field itself stays true, as on
	// Cloudflare, with cert_revoked set).
	ReasonRevoked = "certificate revoked"
	// ReasonOCSPUnknown: OCSP gave no usable answer about the leaf or an
	// intermediate (unknown, unreachable, too slow, bad signer) under
	// revocation.FailClosed.
	ReasonOCSPUnknown = "OCSP status unknown"
)

// Verifier checks a client's presented chain against trust anchors and, for
// a chain that verifies, against the revocation data.
type Verifier struct {
	// Roots are the trust anchors. Nil means no certificate can verify.
	Roots *x509.CertPool
	// Intermediates are configured intermediate CAs: not trust anchors, but
	// used to build chains and to check their CRLs' signatures.
	Intermediates *x509.CertPool
	// Revocation, when set, decides cert_revoked for verified chains; every
	// CA of a verified chain is made known to it (Learn).
	Revocation *revocation.Store
	// Policy says what a covered issuer without a current CRL means:
	// FailClosed (the zero value) fails verification with "CRL has
	// expired", FailOpen counts the certificate as not revoked.
	Policy revocation.Policy
	// CRLFetch, when set, hears of every verified chain before the CRLs are
	// checked (after its CAs are made known to Revocation), so CRLs named
	// by the chain's distribution points get fetched; it bounds its own
	// wait for an issuer's first CRL.
	CRLFetch revocation.ChainWatcher
	// OCSP, when set, is asked about every certificate of a verified chain
	// but the trust anchor, each with its issuer, after the CRLs: revoked
	// wins over a good CRL; no usable answer falls under Policy. Nil means
	// no OCSP.
	OCSP revocation.OCSPChecker
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxChainCerts and MaxChainBytes bound what a client may present
	// (certificates, and the sum of their DER sizes); zero means
	// DefaultMaxChainCerts and DefaultMaxChainBytes. A longer chain is
	// refused in the handshake (TLSConfig) or, elsewhere, not verified
	// ("certificate chain too long") without any work on it.
	MaxChainCerts int
	MaxChainBytes int
	// OCSPLeafOnly limits OCSP to the leaf (nginx's "ssl_ocsp leaf"): for
	// intermediates whose CA publishes CRLs only, or a responder that knows
	// only the leaves' CA.
	OCSPLeafOnly bool
}

// Defaults of Verifier.MaxChainCerts and MaxChainBytes: real client chains
// are a leaf and one or two intermediates of a few KB.
const (
	DefaultMaxChainCerts = 10
	DefaultMaxChainBytes = 32 << 10
)

// checkChainSize returns an error when peer exceeds the chain limits.
func (v *Verifier) checkChainSize(peer []*x509.Certificate) error {
	maxCerts, maxBytes := DefaultMaxChainCerts, DefaultMaxChainBytes
	if v != nil && v.MaxChainCerts > 0 {
		maxCerts = v.MaxChainCerts
	}
	if v != nil && v.MaxChainBytes > 0 {
		maxBytes = v.MaxChainBytes
	}
	if len(peer) > maxCerts {
		return fmt.Errorf("client sent %d certificates, more than the %d allowed (--max-client-chain)", len(peer), maxCerts)
	}
	n := 0
	for _, c := range peer {
		n += len(c.Raw)
	}
	if n > maxBytes {
		return fmt.Errorf("client sent %d bytes of certificates, more than the %d allowed (--max-client-chain-bytes)", n, maxBytes)
	}
	return nil
}

// Result is the outcome of verifying one connection's client certificate.
type Result struct {
	// Presented is true when the client sent at least one certificate.
	Presented bool
	// Verified is true when the chain built to a trust anchor with the
	// clientAuth usage. It stays true for a revoked certificate.
	Verified bool
	// Revoked is true when an accepted CRL (current or not: revocations are
	// never forgotten) lists the leaf or an intermediate of the verified
	// chain.
	Revoked bool
	// Stale is true when an issuer of the chain is covered by revocation
	// checking but has no current CRL; under FailClosed Verified is then
	// false with Reason "CRL has expired".
	Stale bool
	// StaleIssuers names (RFC 2253) every covered issuer of the chain
	// without a current CRL.
	StaleIssuers []string
	// CRLChecked is true when some issuer of the verified chain is covered
	// by revocation checking (has, or is expected to have, a CRL).
	CRLChecked bool
	// Reason says why verification failed, in OpenSSL's words ("certificate
	// has expired", "unable to get local issuer certificate", …).
	Reason string
	// Chain is the verified chain, leaf first, ending at the trust anchor.
	Chain []*x509.Certificate
	// Generation is the revocation store's generation the result was
	// computed at, and Until (zero: never) the time it stops holding — the
	// first notAfter in the chain or nextUpdate of a CRL relied on.
	// A cached result is stale once either moves.
	Generation uint64
	Until      time.Time
}

// Generation returns the revocation store's generation (0 without one).
func (v *Verifier) Generation() uint64 {
	if v == nil {
		return 0
	}
	return v.Revocation.Generation()
}

// Outcome is the Workers certVerified string: "SUCCESS", "NONE" or "FAILED:<reason>".
func (r Result) Outcome() string {
	switch {
	case !r.Presented:
		return VerifyNone
	case r.Verified && r.Revoked:
		return verifyFailed + ReasonRevoked
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
	// The generation is read before the revocation data, so a change that
	// lands in between makes the result look stale, never fresh.
	res := Result{Presented: true, Generation: v.Generation()}
	if v.checkChainSize(peer) != nil {
		res.Reason = "certificate chain too long"
		return res
	}
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
	switch {
	case len(peer) > 1 && v.Intermediates != nil:
		opts.Intermediates = v.Intermediates.Clone()
	case len(peer) > 1:
		opts.Intermediates = x509.NewCertPool()
	default:
		opts.Intermediates = v.Intermediates
	}
	for _, c := range peer[1:] {
		opts.Intermediates.AddCert(c)
	}
	chains, err := peer[0].Verify(opts)
	if err != nil {
		res.Reason = reasonFor(err, peer, now)
		return res
	}
	res.Verified = true
	res.Chain = chains[0]
	for _, c := range res.Chain {
		if res.Until.IsZero() || c.NotAfter.Before(res.Until) {
			res.Until = c.NotAfter
		}
	}
	if v.Revocation == nil {
		v.checkOCSP(&res)
		return res
	}
	for _, c := range res.Chain[1:] {
		v.Revocation.Learn(c)
	}
	if v.CRLFetch != nil {
		v.CRLFetch.WatchChain(res.Chain)
		now = v.now() // the watcher may have waited for a first CRL
	}
	vd := v.Revocation.Check(res.Chain, now)
	res.Generation = vd.Generation
	res.CRLChecked = vd.Covered
	res.StaleIssuers = vd.StaleIssuers
	switch {
	case vd.Revoked:
		res.Revoked = true
	case vd.Stale:
		res.Stale = true
		if v.Policy == revocation.FailClosed {
			res.Verified = false
			res.Reason = ReasonCRLExpired
		}
	}
	if !vd.Until.IsZero() && vd.Until.Before(res.Until) {
		res.Until = vd.Until
	}
	v.checkOCSP(&res)
	return res
}

// checkOCSP applies the OCSP answers about a verified chain to res: the
// leaf and each intermediate, each with its issuer, asked at once so a
// first check waits for the slowest answer, not their sum. The checker
// bounds its own wait (--ocsp-timeout).
func (v *Verifier) checkOCSP(res *Result) {
	if v.OCSP == nil || !res.Verified || res.Revoked || len(res.Chain) < 2 {
		return
	}
	n := len(res.Chain) - 1 // the trust anchor has no issuer to ask
	if v.OCSPLeafOnly {
		n = 1
	}
	type answer struct {
		status revocation.OCSPStatus
		until  time.Time
	}
	answers := make([]answer, n)
	if n == 1 {
		answers[0].status, answers[0].until = v.OCSP.CheckOCSP(context.Background(), res.Chain[0], res.Chain[1])
	} else {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				answers[i].status, answers[i].until = v.OCSP.CheckOCSP(context.Background(), res.Chain[i], res.Chain[i+1])
			})
		}
		wg.Wait()
	}
	unknown := false
	for _, a := range answers {
		switch a.status {
		case revocation.OCSPRevoked:
			res.Revoked = true
		case revocation.OCSPUnknown:
			unknown = true
		}
		if !a.until.IsZero() && a.until.Before(res.Until) {
			res.Until = a.until
		}
	}
	// A revocation anywhere in the chain decides; only without one does a
	// missing answer count, under the policy.
	if unknown && !res.Revoked && v.Policy == revocation.FailClosed {
		res.Verified = false
		res.Reason = ReasonOCSPUnknown
	}
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
