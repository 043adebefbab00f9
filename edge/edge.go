package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/certsight/certsight/edge/rules"
	"github.com/certsight/certsight/edge/xfcc"
)

// Config configures the edge. The zero value runs the default rules with no
// trust anchors (so nothing verifies and nothing is forwarded).
type Config struct {
	// Verifier verifies client certificates; nil verifies nothing.
	Verifier *Verifier
	// Rules are the header rules; nil means rules.DefaultRuleset().
	Rules *rules.Ruleset
	// ManagedTransform also applies rules.ManagedTransformRuleset(): one
	// cf-cert-* header per field, like Cloudflare's managed transform
	// "Add TLS client auth headers".
	ManagedTransform bool
	// WorkersHeaders also sets the nine X-CERT-* headers of Cloudflare's
	// Workers mTLS example, from the Workers-style view (see
	// SetWorkersHeaders).
	WorkersHeaders bool
	// Legacy sends Cf-Client-Cert-Der-Base64 and Cf-Client-Cert-Sha256 for a
	// verified, unrevoked certificate.
	Legacy LegacyMode
	// LegacyHosts limits legacy forwarding to the hostnames it switches on;
	// nil means every hostname.
	LegacyHosts *HostnameSettings
	// XFCC also applies rules.XFCCRuleset(): Envoy's
	// x-forwarded-client-cert for a verified, unrevoked certificate.
	XFCC bool
	// XFCCBy are the By values of that header: the URI SANs of the edge's
	// own server certificate (see XFCCByFromCertificate).
	XFCCBy []string
	// OnStrip, when set, is called with the name of every client-sent copy
	// of a managed header the edge removes (spoof attempts, for metrics).
	// It runs on the request path and must be cheap.
	OnStrip func(name string)
	// Certificate, when set, is the server certificate TLSConfig serves
	// (through GetCertificate, so Reload can replace it for new handshakes).
	// Nil leaves the certificates of TLSConfig's base in charge, and then
	// Reload cannot set one.
	Certificate *tls.Certificate
}

// Edge applies a Config to requests. Build it with New; it is safe for
// concurrent use, and Reload replaces its configuration while it serves.
type Edge struct {
	// cfg is the configuration in force. A request reads it once (through
	// its connection's fields) and uses that one throughout; a handshake
	// likewise.
	cfg  atomic.Pointer[config]
	envs sync.Pool // of *env
	// needRoots is set by TLSConfig for modes that verify: a reload then
	// may not drop the trust anchors.
	needRoots atomic.Bool
}

// config is one complete, checked Config in the form requests use. It is
// never changed once published: Reload builds a new one and swaps it in.
type config struct {
	verifier    *Verifier
	rulesets    []*rules.Ruleset
	workers     bool
	legacy      LegacyMode
	legacyHosts map[string]struct{} // nil: all
	san         *sanitizer
	// xfcc is set when some ruleset reads certsight.xfcc, which is then
	// computed once per connection.
	xfcc *xfcc.Options
	cert *tls.Certificate
	// xfDirect: no ruleset manages Forwarded or X-Forwarded-*, so the proxy's
	// fast path may write them straight to the origin.
	xfDirect bool
}

// HeaderXFCC is Envoy's client-certificate header; no preset of ours sets
// it yet, but origins written for Envoy trust it, so client copies go.
const HeaderXFCC = "X-Forwarded-Client-Cert"

// New builds an Edge from cfg.
func New(cfg Config) (*Edge, error) {
	c, err := newConfig(cfg)
	if err != nil {
		return nil, err
	}
	e := &Edge{}
	e.cfg.Store(c)
	return e, nil
}

// Reload makes cfg the edge's configuration for every handshake and
// request that starts after it returns; requests in flight finish with the
// one they started with. cfg is checked as New checks it, and against how
// the edge serves (TLSConfig's mode needs trust anchors; a server
// certificate can replace one, not appear or vanish); on any error nothing
// changes. Open connections keep their TLS session but verify their client
// certificate again, under cfg, on their next request, so a trust anchor
// taken out stops counting on open connections too.
func (e *Edge) Reload(cfg Config) error {
	c, err := newConfig(cfg)
	if err != nil {
		return err
	}
	if e.needRoots.Load() && (c.verifier == nil || c.verifier.Roots == nil) {
		return errors.New("reload: the client-auth mode needs trust anchors and the new configuration has none")
	}
	if old := e.cfg.Load(); (old.cert == nil) != (c.cert == nil) {
		return errors.New("reload: a server certificate can only replace one given to New")
	}
	e.cfg.Store(c)
	return nil
}

// ServerCertificate returns the server certificate in force (nil when the
// Config had none).
func (e *Edge) ServerCertificate() *tls.Certificate { return e.cfg.Load().cert }

func newConfig(cfg Config) (*config, error) {
	if cfg.Certificate != nil && len(cfg.Certificate.Certificate) == 0 {
		return nil, errors.New("server certificate has no certificate")
	}
	e := &config{verifier: cfg.Verifier, workers: cfg.WorkersHeaders, legacy: cfg.Legacy, cert: cfg.Certificate}
	rs := cfg.Rules
	if rs == nil {
		rs = rules.DefaultRuleset()
	}
	e.rulesets = append(e.rulesets, rs)
	if cfg.ManagedTransform {
		e.rulesets = append(e.rulesets, rules.ManagedTransformRuleset())
	}
	if cfg.XFCC {
		e.rulesets = append(e.rulesets, rules.XFCCRuleset())
	}
	for _, r := range e.rulesets {
		if r.References(rules.XFCCField) {
			o := xfcc.AllDetails(cfg.XFCCBy)
			e.xfcc = &o
		}
	}
	if cfg.LegacyHosts != nil {
		e.legacyHosts = cfg.LegacyHosts.hostSet()
	}
	if cfg.Legacy < LegacyOff || cfg.Legacy > LegacyEveryRequest {
		return nil, fmt.Errorf("legacy mode %d out of range", cfg.Legacy)
	}
	// One family of names is always managed, whatever is switched on: every
	// name any preset or rule of ours could set. An origin behind the edge
	// must never see a client's copy of one, even of a preset that is off
	// today and on tomorrow.
	names := append([]string{HeaderXFCC}, WorkersHeaderNames...)
	for _, r := range e.rulesets {
		names = append(names, r.Headers()...)
	}
	prefixes := []string{"Client-Cert", "Cf-Client-Cert-", "Cf-Cert-", "X-Cert-"}
	for _, n := range names {
		if len(n) > maxManagedName {
			return nil, fmt.Errorf("managed header name %.40q… is longer than %d bytes", n, maxManagedName)
		}
	}
	e.san = newSanitizer(names, prefixes)
	e.san.onStrip = cfg.OnStrip
	e.xfDirect = true
	for _, n := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if e.san.managed(n) {
			e.xfDirect = false
		}
	}
	return e, nil
}

// Middleware builds an edge from cfg, like New, and returns it with its
// Handler in the func(http.Handler) http.Handler shape that routers and
// middleware chains take. A bad cfg is an error. Serve the result with the
// server's ConnContext set to the returned Edge's ConnContext (and its
// TLSConfig and Listener, see New) so the fields are computed once per
// connection; without it they are computed on every request.
func Middleware(cfg Config) (*Edge, func(http.Handler) http.Handler, error) {
	e, err := New(cfg)
	if err != nil {
		return nil, nil, err
	}
	return e, e.Handler, nil
}

// Handler wraps next. For each request it deletes every client copy of the
// managed headers, then runs the rules and presets against the connection's
// fields, editing r.Header in place, and makes the Workers-style view
// available to next via TLSClientAuthFrom.
func (e *Edge) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ci, r := e.requestInfo(r)
		ci.cfg.san.stripConnectionTokens(r.Header)
		e.apply(r.Header, r, ci)
		next.ServeHTTP(w, r)
	})
}

// requestInfo finds (or computes) the connection's fields. Without the
// connection cache it computes them for this request and puts them in a new
// context.
func (e *Edge) requestInfo(r *http.Request) (*connInfo, *http.Request) {
	ctx := r.Context()
	if st, _ := ctx.Value(connKey{}).(*connState); st != nil {
		return e.connInfoFor(st, r.TLS, r.RemoteAddr), r
	}
	if ci, _ := ctx.Value(infoKey{}).(*connInfo); ci != nil {
		return ci, r
	}
	ci := e.computeInfo(e.cfg.Load(), nil, r.TLS, r.RemoteAddr)
	return ci, r.WithContext(context.WithValue(ctx, infoKey{}, ci))
}

// apply sanitizes h and sets the managed headers for request r, by the
// configuration ci was computed under.
func (e *Edge) apply(h http.Header, r *http.Request, ci *connInfo) {
	c := ci.cfg
	c.san.strip(h)
	// The env goes to the rules as an interface, which would put it on the
	// heap for every request; a pool keeps it off.
	en, _ := e.envs.Get().(*env)
	if en == nil {
		en = new(env)
	}
	*en = env{ci: ci, host: hostOnly(r.Host), method: r.Method, path: r.URL.Path}
	for _, rs := range c.rulesets {
		rs.Apply(h, en)
	}
	*en = env{}
	e.envs.Put(en)
	if c.workers {
		SetWorkersHeaders(h, ci.view)
	}
	if c.legacy != LegacyOff && ci.legacyDER != "" && c.legacyHost(hostOnly(r.Host)) {
		send := c.legacy == LegacyEveryRequest
		if !send {
			if st, _ := r.Context().Value(connKey{}).(*connState); st != nil {
				send = st.legacySent.CompareAndSwap(false, true)
			} else {
				send = true // no connection cache: every request is a first one
			}
		}
		if send {
			h[HeaderLegacyDER] = []string{ci.legacyDER}
			h[HeaderLegacySHA256] = []string{ci.legacySHA256}
		}
	}
}

func (e *config) legacyHost(host string) bool {
	if e.legacyHosts == nil {
		return true
	}
	if len(host) > 253 {
		return false
	}
	var buf [253]byte
	for i := 0; i < len(host); i++ {
		c := host[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	_, ok := e.legacyHosts[string(buf[:len(host)])]
	return ok
}

// hostOnly drops the port of a Host value ("example.com:8443",
// "[::1]:8443") without allocating.
func hostOnly(h string) string {
	if h == "" {
		return h
	}
	if h[0] == '[' {
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return h
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h, ':') == i {
		return h[:i]
	}
	return h
}
