package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/certsight/certsight/edge/rules"
	"github.com/certsight/certsight/internal/enum"
)

type connKey struct{}
type infoKey struct{}

// connState is the per-connection cache. ConnContext puts it in the
// connection's context at accept, before the TLS handshake, so it starts
// empty: VerifyConnection may record the verification result during the
// handshake, and the first request computes the fields (again when they
// went stale; see connInfoFor).
type connState struct {
	// verified is set by VerifyConnection (when the connection came through
	// Listener) so the chain is verified once, at the handshake.
	verified atomic.Pointer[handshakeResult]

	mu   sync.Mutex // serialises computing info
	info atomic.Pointer[connInfo]

	// legacySent makes first-request legacy forwarding happen once per
	// connection, whichever HTTP/2 stream wins.
	legacySent atomic.Bool
}

func (st *connState) loaded() *connInfo { return st.info.Load() }

// handshakeResult is a handshake's verification and the configuration that
// made it: after a Reload it no longer counts.
type handshakeResult struct {
	res Result
	cfg *config
}

// stateConn carries a connection's state from the listener to the TLS
// callbacks (hello.Conn) and to ConnContext (tls.Conn.NetConn()).
type stateConn struct {
	net.Conn
	st *connState
}

// ClientAuth says when a client certificate is asked for, required, and
// whether a failed verification ends the handshake.
type ClientAuth int

// Client-auth modes, named as the --client-auth flag spells them. In every
// mode a presented certificate is verified (against Verifier.Roots, when
// set) and the outcome is reported through the fields; only
// RequireAndVerify turns a failure into a handshake abort.
const (
	// Request asks for a certificate; none is fine.
	Request ClientAuth = iota
	// Require aborts a handshake without a certificate; a certificate that
	// fails verification is reported, not refused.
	Require
	// VerifyIfGiven asks for a certificate and needs trust anchors to be
	// configured; failures are reported through the fields.
	VerifyIfGiven
	// RequireAndVerify aborts the handshake unless a certificate was
	// presented, verified and is not revoked.
	RequireAndVerify
)

// clientAuthNames spells the modes as --client-auth takes them.
var clientAuthNames = enum.Names[ClientAuth]{Type: "ClientAuth", What: "client-auth mode",
	Words: []string{"request", "require", "verify-if-given", "require-and-verify"}}

// ParseClientAuth reads a --client-auth value.
func ParseClientAuth(s string) (ClientAuth, error) { return clientAuthNames.Parse(s) }

func (m ClientAuth) String() string { return clientAuthNames.String(m) }

// TLSConfig returns a copy of base set up for client authentication in mode:
// Go is told only to request (or require) a certificate, never to verify it,
// so failures become fields instead of aborted handshakes; the edge verifies
// in VerifyConnection, which also runs for resumed sessions. base supplies
// the server certificate; MinVersion is raised to TLS 1.2 and h2 and
// http/1.1 are offered unless base says otherwise.
//
// With Config.Certificate set, the server certificate comes from the
// configuration in force (GetCertificate), so Reload changes it for new
// handshakes; base's certificates are then not used.
func (e *Edge) TLSConfig(base *tls.Config, mode ClientAuth) (*tls.Config, error) {
	if mode == VerifyIfGiven || mode == RequireAndVerify {
		if v := e.cfg.Load().verifier; v == nil || v.Roots == nil {
			return nil, fmt.Errorf("client-auth %s needs trust anchors (--client-ca)", mode)
		}
		e.needRoots.Store(true)
	}
	cfg := base.Clone()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if e.cfg.Load().cert != nil {
		// Go consults GetCertificate only when Certificates is empty (or
		// the client sent a server name), so the configured list goes.
		cfg.Certificates = nil
		cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return e.cfg.Load().cert, nil
		}
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = []string{"h2", "http/1.1"}
	}
	cfg.ClientAuth = tls.RequestClientCert
	if mode == Require || mode == RequireAndVerify {
		cfg.ClientAuth = tls.RequireAnyClientCert
	}
	// CA names are not sent: clients pick their certificate themselves, and
	// the list can be large.
	cfg.ClientCAs = nil
	verify := func(st *connState, cs tls.ConnectionState) error {
		c := e.cfg.Load()
		// Oversized chains end here, before any signature is checked.
		if err := c.verifier.checkChainSize(cs.PeerCertificates); err != nil {
			return err
		}
		res := c.verifier.Verify(cs.PeerCertificates)
		if st != nil {
			st.verified.Store(&handshakeResult{res: res, cfg: c})
		}
		if mode == RequireAndVerify {
			switch {
			case !res.Verified:
				return fmt.Errorf("client certificate: %s", res.Outcome())
			case res.Revoked:
				return errors.New("client certificate: revoked")
			}
		}
		return nil
	}
	cfg.VerifyConnection = func(cs tls.ConnectionState) error { return verify(nil, cs) }
	perConn := cfg.Clone()
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		sc, ok := hello.Conn.(*stateConn)
		if !ok {
			return nil, nil // not from Listener: verify again on the first request
		}
		c := perConn.Clone()
		c.VerifyConnection = func(cs tls.ConnectionState) error { return verify(sc.st, cs) }
		return c, nil
	}
	return cfg, nil
}

// Listener wraps inner (a TCP listener) into a TLS listener that records
// each connection's verification result for the edge, so a chain is
// verified once per connection, at the handshake. cfg should come from
// TLSConfig. Serve it with an http.Server whose ConnContext is
// Edge.ConnContext.
func (e *Edge) Listener(inner net.Listener, cfg *tls.Config) net.Listener {
	return tls.NewListener(&stateListener{Listener: inner}, cfg)
}

type stateListener struct{ net.Listener }

func (l *stateListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &stateConn{Conn: c, st: &connState{}}, nil
}

// ConnContext is the http.Server.ConnContext hook that gives every
// connection its cache, so the fields are computed once per connection and
// reused by every request on it (keep-alive requests and HTTP/2 streams).
func (e *Edge) ConnContext(ctx context.Context, c net.Conn) context.Context {
	var st *connState
	if tc, ok := c.(*tls.Conn); ok {
		if sc, ok := tc.NetConn().(*stateConn); ok {
			st = sc.st
		}
	}
	if st == nil {
		st = &connState{}
	}
	return context.WithValue(ctx, connKey{}, st)
}

// connInfoFor returns the connection's fields, computing them on first use
// and again whenever the configuration was reloaded, the revocation data
// changed (a new generation) or the time the result holds until passed (a
// notAfter, a CRL's nextUpdate): a kept-alive connection follows reloads,
// revocation and expiry from its next request. The check is two atomic
// loads, plus a clock read for a verified certificate.
func (e *Edge) connInfoFor(st *connState, cs *tls.ConnectionState, remoteAddr string) *connInfo {
	c := e.cfg.Load()
	if ci := st.info.Load(); ci != nil && ci.fresh(c) {
		return ci
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	ci := st.info.Load()
	if ci == nil || ci.cfg != c {
		var res *Result
		if hr := st.verified.Load(); hr != nil && hr.cfg == c {
			res = &hr.res
		}
		ci = e.computeInfo(c, res, cs, remoteAddr)
	}
	if !ci.fresh(c) { // the handshake's result, or the cached one, no longer holds
		ci = e.computeInfo(c, nil, cs, remoteAddr)
	}
	st.info.Store(ci)
	return ci
}

// fresh reports whether a cached result still holds under c, the
// configuration in force.
func (ci *connInfo) fresh(c *config) bool {
	if ci.cfg != c {
		return false
	}
	if ci.result.Presented && ci.result.Generation != c.verifier.Generation() {
		return false
	}
	return ci.until == 0 || c.verifier.now().UnixNano() < ci.until
}

// computeInfo computes a connection's fields under c, from res when the
// handshake verified under c, else by verifying now.
func (e *Edge) computeInfo(c *config, res *Result, cs *tls.ConnectionState, remoteAddr string) *connInfo {
	var ci *connInfo
	if cs == nil {
		ci = newConnInfo(nil, Result{})
	} else {
		if res == nil {
			r := c.verifier.Verify(cs.PeerCertificates)
			res = &r
		}
		ci = newConnInfo(cs.PeerCertificates, *res)
		if c.xfcc != nil && len(cs.PeerCertificates) > 0 {
			ci.xfcc = xfccValue(cs.PeerCertificates, ci.str[rules.FieldCertSubjectDNRFC2253], *c.xfcc)
		}
		if !res.Until.IsZero() {
			ci.until = res.Until.UnixNano()
		}
	}
	ci.cfg = c
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		ci.remote = ap.Addr().Unmap()
	}
	return ci
}
