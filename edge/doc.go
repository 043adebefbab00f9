// Package edge is certsight's TLS-terminating side: it computes Cloudflare's
// cf.tls_client_auth.* fields from a connection's client certificate
// (verification against trust anchors, revocation from CRLs), removes every
// client-supplied copy of the headers it manages — aliases such as
// Client_Cert and Client.Cert included — and then runs header rules
// (package edge/rules) that set RFC 9440 Client-Cert / Client-Cert-Chain by
// default.
//
// The fields are computed once per connection, lazily on its first request
// (http.Server.ConnContext runs before the TLS handshake), and shared by
// every keep-alive request and HTTP/2 stream on it. Verification happens in
// tls.Config.VerifyConnection, so resumed sessions are checked too.
//
// Entry points: New and Middleware (net/http middleware), Edge.TLSConfig,
// Edge.Listener and Edge.ConnContext (server wiring), Edge.Proxy (the reverse
// proxy of cmd/certsight-edge), TLSClientAuthFrom (the Workers-style view for
// handlers), SetWorkersHeaders (the X-CERT-* preset), and, for origins behind
// a trusted proxy, ClientCertFromHeaders.
package edge
