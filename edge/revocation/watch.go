package revocation

import "crypto/x509"

// ChainWatcher hears of every verified chain before its revocation check,
// so that a source of CRLs that learns where to fetch them from the chains
// themselves (their CRL distribution points) can start fetching, and give
// the first fetch for an issuer a short head start. It lives here, not in
// the fetcher's package, so verification needs no import of it.
type ChainWatcher interface {
	// WatchChain is given a verified chain, leaf first, ending at the
	// trust anchor. It must return within a bound of its own: it runs
	// inside a TLS handshake.
	WatchChain(chain []*x509.Certificate)
}
