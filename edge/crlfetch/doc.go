// Package crlfetch keeps the edge's revocation store fed with the CRLs that
// client certificate chains name in their CRL distribution points
// (RFC 5280 §4.2.1.13), off the handshake path.
//
// What is fetched: for every certificate of a verified chain (the leaf only
// in ModeAll) and every configured trust anchor and intermediate, the CRL at
// its first http distribution point (the others of the same extension are
// fallbacks), expected to be signed by the certificate's issuer. Only
// certificates that verified up to a trust anchor are ever read, so every
// URL was put there by a CA the edge trusts; still, only http:// URLs are
// fetched (ldap, https and file are logged once and ignored), redirects are
// bounded and must stay on http, responses are capped in size and time, no
// proxy from the environment is used, and at most Options.MaxURLs
// distribution points are followed.
//
// How: one goroutine per distribution point. The first time a chain names
// it, its issuer becomes covered in the store (so missing evidence falls
// under the fail policy, never "allowed") and the handshake waits at most
// Options.Wait for the first answer. Every CRL goes through the store's
// acceptance rules (signed by the issuer, complete, has nextUpdate, not
// older), and must come from the issuer whose certificates name the URL.
// Refreshes come before nextUpdate (halfway there, at most RefreshMax
// apart, with jitter) as conditional GETs (If-None-Match, If-Modified-Since);
// failures back off exponentially from RetryMin to RetryMax. Logs are one
// line per change of state of a distribution point, never per request.
//
// With a cache directory every accepted CRL is written there atomically
// (temporary file, fsync, rename; mode 0600) beside a small JSON record of
// its URL, validators and issuer certificates; at start the cache is loaded
// through the same acceptance rules, the issuer certificates must chain to a
// trust anchor, and a tampered entry is refused and logged.
//
// Delta CRLs (freshestCRL) are not fetched: the store refuses delta CRLs, so
// a complete CRL is always what decides.
package crlfetch
