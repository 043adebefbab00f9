// Package revocation holds the edge's per-issuer revocation state and the
// rules for changing it, so that every source of CRLs (files, fetches from
// distribution points) goes through the same checks:
//
//   - a CRL is matched to its issuer by name as X.509 compares names
//     (RFC 5280 §7.1: case-folded, whitespace-normalised directory strings)
//     and by authority key identifier where both sides have one, and is
//     accepted only if that issuer's key verifies its signature, it is not
//     older (thisUpdate, then CRL number) than the one in use, it has a
//     nextUpdate, and it is complete (no delta, partitioned or indirect CRL);
//   - a serial any accepted CRL listed stays revoked, even when its CRL is
//     past nextUpdate or a newer CRL leaves it out (CRLs are cumulative) —
//     only a released certificateHold goes;
//   - an issuer with a CRL (or marked with Cover) is covered; a covered
//     issuer without a current CRL is stale, and what that means is the
//     caller's Policy;
//   - a generation counter changes on every change, so a connection that
//     cached its verdict re-checks with one atomic load per request.
//
// Store is the state; Files feeds CRL files into it (strict at start,
// retried after failures at runtime).
package revocation
