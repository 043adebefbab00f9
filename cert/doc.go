// Package cert is certsight's one certificate parser, shared by the device side
// (store readers, osquery tables, posture) and the edge (mTLS header forwarding).
//
// It turns bytes into certificates and key facts ([Parse]), certificates into the
// derived facts that tables and header fields print ([NewInfo]), and offers the
// explicit checks [KeyMatches] and [IssuedBy]. RFC 9440 values are made by
// [EncodeClientCert] and [EncodeClientCertChain] and read back, strictly, by
// [ParseClientCert] and [ParseClientCertChain].
//
// Private keys are parsed only far enough to learn their public half: the
// secret bytes are dropped before Parse returns.
package cert
